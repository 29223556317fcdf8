import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { spawnHelper } from '../helpers/child.ts'
import { aof, useFixtures } from './fixtures.ts'

// stats tabulates a file set (a live writer's file included) and a read-only Manager's counters.
const fixture = useFixtures('stats')

test('stats of a directory: a table of files and the manager statistics', async (t) => {
  const live = join(fixture.dir, 'live.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [live, '--initial', '7'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')

  const run = await aof(['stats', fixture.dir])
  assert.equal(run.status, 0, run.stderr)
  assert.match(run.stdout, /^file\s+kind\s+state\s+writer\s+data\s+on disk\s+entries\n/)
  assert.match(run.stdout, /live\.aof\s+aof: record log\s+live\s+\d+ alive\s+.*\s7\n/)
  assert.match(run.stdout, /log\.aof\s+aof: record log\s+finished\s+-\s+.*\s200\n/)
  assert.match(run.stdout, /plain\.log\s+plain: record log\s+-\s+-\s+.*\s3000\n/)
  assert.doesNotMatch(run.stdout, /-shm/)
  assert.match(run.stdout, /Manager statistics/)
  assert.match(run.stdout, /\nopens\s+5\n/)

  const json = JSON.parse((await aof(['stats', '--json', fixture.files.logAof, live])).stdout) as {
    files: { path: string; life: string; entries: number; writerAlive: boolean | null }[]
    manager: Record<string, number>
  }
  assert.deepEqual(
    json.files.map((file) => [file.life, file.entries, file.writerAlive]),
    [
      ['finished', 200, false],
      ['live', 7, true],
    ],
  )
  assert.equal(json.manager['opens'], 2)
  assert.equal(json.manager['maps'], 2)
  writer.process.kill('SIGKILL')
  await writer.exited
})

test('stats shows the statistics a running process publishes (Manager statsFile)', async () => {
  const own = mkdtempSync(join(tmpdir(), 'aofkit-cli-stats-published-'))
  try {
    const { Manager } = await import('../../src/index.ts')
    const manager = new Manager({ dir: own, flushIntervalMs: 0, statsFile: 'app.stats.json' })
    const file = manager.open('app.aof', { create: true })
    file.write(Buffer.from('hello'))
    await file.sync()
    await manager.close()

    const run = await aof(['stats', join(own, 'app.stats.json')])
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /Published statistics .*app\.stats\.json \(pid \d+, closed its manager;/)
    assert.match(run.stdout, /\nsyncs\s+1\n/)
    assert.doesNotMatch(run.stdout, /Manager statistics/)

    // In a directory, beside the data file it describes.
    const both = JSON.parse((await aof(['stats', '--json', own])).stdout) as {
      files: { path: string }[]
      published: { path: string; stats: { pid: number; stats: Record<string, number> } }[]
    }
    assert.deepEqual(
      both.files.map((row) => row.path),
      [join(own, 'app.aof')],
    )
    assert.equal(both.published[0]?.stats.pid, process.pid)
    assert.equal(both.published[0]?.stats.stats['creates'], 1)
  } finally {
    rmSync(own, { recursive: true, force: true })
  }
})

test('stats closes the files it reads one at a time: its closeDur is not a sum of overlapping closes', async () => {
  const own = mkdtempSync(join(tmpdir(), 'aofkit-cli-stats-closes-'))
  try {
    const { Manager } = await import('../../src/index.ts')
    const manager = new Manager({ dir: own, flushIntervalMs: 0 })
    for (let k = 0; k < 20; k++) {
      const file = manager.open(`f${k}.aof`, { create: true })
      file.write(Buffer.alloc(100_000, 1))
      await file.finish()
      await file.close()
    }
    await manager.close()
    const startNs = process.hrtime.bigint()
    const run = await aof(['stats', '--json', own])
    const elapsedNs = Number(process.hrtime.bigint() - startNs)
    const json = JSON.parse(run.stdout) as { manager: Record<string, number> }
    assert.equal(json.manager['closes'], 20)
    // Closes one after another within this run take less time together than the whole run.
    assert.ok((json.manager['closeDur'] as number) < elapsedNs, `closeDur ${json.manager['closeDur']} ns in a run of ${elapsedNs} ns`)

    const text = await aof(['stats', own])
    assert.match(text.stdout, /\ncloseDur\s+[\d.]+ [µmn]?s over 20 calls, [\d.]+ [µmn]?s each\n/)
    assert.match(text.stdout, /durations \(…Dur\): the time of every call added up/)
  } finally {
    rmSync(own, { recursive: true, force: true })
  }
})
