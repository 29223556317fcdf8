import assert from 'node:assert/strict'
import { chmodSync, openSync, closeSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { aof } from '../cli/fixtures.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

test('aof cat and aof tail read a journal directory by positions and times; tail -f follows it', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < 500; position++) journal.append(Buffer.from(`entry ${position}`))
  await journal.close()

  const all = await aof(['cat', dir])
  assert.equal(all.status, 0, all.stderr)
  assert.deepEqual(
    all.stdout.trim().split('\n'),
    Array.from({ length: 500 }, (_, k) => `entry ${k}`),
  )
  const range = await aof(['cat', '--offsets', '--from', '200', '--to', '203', dir])
  assert.equal(range.stdout, '200\tentry 200\n201\tentry 201\n202\tentry 202\n')
  const json = (await aof(['cat', '--json', '--from', '499', dir])).stdout.trim().split('\n')
  const parsed = json.map((text) => JSON.parse(text) as { position: number; time: number; text: string })
  assert.equal(parsed.length, 1)
  assert.equal(parsed[0]!.position, 499)
  assert.equal(parsed[0]!.text, 'entry 499')
  // By time: from a time after every entry, nothing; from the epoch, everything.
  assert.equal((await aof(['cat', '--from', new Date(Date.now() + 60_000).toISOString(), dir])).stdout, '')
  assert.equal((await aof(['cat', '--from', '@0', '--to', '3', dir])).stdout, 'entry 0\nentry 1\nentry 2\n')
  assert.equal((await aof(['cat', '--from', 'yesterday-ish', dir])).status, 2)

  const last = await aof(['tail', '-n', '3', dir])
  assert.equal(last.stdout, 'entry 497\nentry 498\nentry 499\n')

  // tail -f in another process, across a roll and a new writer.
  const follower = spawnHelper('../../src/cli/main.ts', ['tail', '-f', '-n', '1', dir])
  await follower.waitFor('entry 499\n')
  const writer = await Journal.open(dir)
  for (let position = 500; position < 700; position++) writer.append(Buffer.from(`entry ${position}`))
  await follower.waitFor('entry 699\n')
  await writer.close()
  follower.process.kill('SIGINT')
  const ended = await follower.exited
  assert.equal(ended.code, 0, follower.stderr())
})

test('aof inspect and aof verify of a journal directory: segments, positions, writer, consumers; damage found', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < 300; position++) journal.append(Buffer.from(`entry ${position} ${'x'.repeat(40)}`))
  const consumer = await Journal.openConsumer(dir, 'billing')
  await consumer.commit(41)
  await consumer.close()
  await journal.sync() // and the segments rolled past are finished

  const inspected = await aof(['inspect', dir])
  assert.equal(inspected.status, 0, inspected.stderr)
  assert.match(inspected.stdout, /: journal\n/)
  assert.match(inspected.stdout, /entries\s+300 \(positions 0 to 299; next 300\)/)
  assert.match(inspected.stdout, new RegExp(`writer\\s+pid ${process.pid}, open`))
  assert.match(inspected.stdout, /consumers\s+billing \(committed 41, lag 258\)/)
  const json = JSON.parse((await aof(['inspect', '--json', dir])).stdout) as { nextPosition: number; segments: { entries: number; finished: boolean }[] }
  assert.equal(json.nextPosition, 300)
  assert.equal(
    json.segments.reduce((sum, segment) => sum + segment.entries, 0),
    300,
  )
  assert.ok(json.segments.slice(0, -1).every((segment) => segment.finished))
  const verified = await aof(['verify', dir])
  assert.equal(verified.status, 0, verified.stderr)
  assert.match(verified.stdout, /^ok: .*: \d+ segments, 300 entries, every record checked\n$/)
  await journal.close()

  // Damage in a finished segment: verify exits 1 and names the segment.
  const path = join(dir, '00000000000000000000.log')
  chmodSync(path, 0o644)
  const fd = openSync(path, 'r+')
  writeSync(fd, new Uint8Array(16).fill(0xee), 0, 16, 200)
  closeSync(fd)
  const damaged = await aof(['verify', dir])
  assert.equal(damaged.status, 1)
  assert.match(damaged.stdout, /damaged: segment 0: /)
})
