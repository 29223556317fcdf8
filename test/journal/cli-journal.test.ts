import assert from 'node:assert/strict'
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
