import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AppendOnlyFile, Manager } from '../../src/index.ts'
import { writePublishedStats } from '../../src/aof/stats-file.ts'
import { emptyStats } from '../../src/aof/stats.ts'
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

test('stats closes the files it reads one at a time: no close runs while another one does', async (t) => {
  const own = mkdtempSync(join(tmpdir(), 'aofkit-cli-stats-closes-'))
  t.after(() => rmSync(own, { recursive: true, force: true }))
  const manager = new Manager({ dir: own, flushIntervalMs: 0 })
  for (let k = 0; k < 20; k++) {
    const file = manager.open(`f${k}.aof`, { create: true })
    file.write(Buffer.alloc(100_000, 1))
    await file.finish()
    await file.close()
  }
  await manager.close()
  // Counts the closes under way per manager, through the files' own open() and close() (the
  // command runs in this process): timed one by one, closes of one manager that overlapped
  // would each count the others' time too, and its closeDur would add them up.
  const open = Object.getOwnPropertyDescriptor(Manager.prototype, 'open')?.value as (this: Manager, ...args: unknown[]) => AppendOnlyFile
  const close = Object.getOwnPropertyDescriptor(AppendOnlyFile.prototype, 'close')?.value as (this: AppendOnlyFile) => Promise<void>
  const managerOf = new WeakMap<AppendOnlyFile, Manager>()
  const closing = new Map<Manager, Set<AppendOnlyFile>>()
  let most = 0
  Manager.prototype.open = function (this: Manager, ...args: unknown[]): AppendOnlyFile {
    const file = open.apply(this, args)
    managerOf.set(file, this)
    return file
  }
  AppendOnlyFile.prototype.close = async function (this: AppendOnlyFile): Promise<void> {
    const owner = managerOf.get(this)
    const files = owner === undefined ? null : (closing.get(owner) ?? closing.set(owner, new Set()).get(owner)!)
    // A second close() of a file closing already is not another close under way.
    if (files === null || files.has(this)) return close.call(this)
    files.add(this)
    most = Math.max(most, files.size)
    try {
      await close.call(this)
    } finally {
      files.delete(this)
    }
  }
  t.after(() => {
    Manager.prototype.open = open
    AppendOnlyFile.prototype.close = close
  })
  const run = await aof(['stats', '--json', own])
  const json = JSON.parse(run.stdout) as { manager: Record<string, number> }
  assert.equal(json.manager['closes'], 20)
  assert.equal(most, 1, 'closes of one manager ran at the same time')
})

test('stats shows a duration as a sum over its calls: closes that overlapped are not read as time that passed', async (t) => {
  const own = mkdtempSync(join(tmpdir(), 'aofkit-cli-stats-durations-'))
  t.after(() => rmSync(own, { recursive: true, force: true }))
  // Two closes that ran at the same time for 1.5 ms each: 3 ms added up in 1.5 ms that passed.
  const stats = { ...emptyStats(), closes: 2, closeDur: 3_000_000, syncs: 1, syncsDur: 250_000 }
  const path = join(own, 'app.stats.json')
  writePublishedStats(path, { format: 'aofkit-stats', pid: process.pid, time: Date.now(), closed: true, files: [], stats })
  const text = await aof(['stats', path])
  assert.equal(text.status, 0, text.stderr)
  assert.match(text.stdout, /\ncloseDur\s+3\.00 ms over 2 calls, 1\.50 ms each\n/)
  assert.match(text.stdout, /\nsyncsDur\s+250\.0 µs over 1 call, 250\.0 µs each\n/)
  assert.match(text.stdout, /durations \(…Dur\): the time of every call added up; calls that ran at the same time/)
})
