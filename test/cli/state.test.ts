import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'

import { aof, flipByte, sizeOf, useFixtures } from './fixtures.ts'

// state restores a state log (plain or in an append-only file); compact rewrites it to start
// at its latest snapshot.
const fixture = useFixtures('state')

test('state shows the epoch, the snapshot size and the update count', async () => {
  const run = await aof(['state', fixture.files.statePlain])
  assert.equal(run.status, 0)
  assert.match(run.stdout, /epoch\s+81\n/)
  assert.match(run.stdout, /snapshot\s+5 B\n/)
  assert.match(run.stdout, /updates\s+2 since the snapshot \(4 B\)/)
  const json = JSON.parse((await aof(['state', '--json', fixture.files.stateAof])).stdout) as Record<string, unknown>
  assert.deepEqual(
    { epoch: json['epoch'], snapshotSize: json['snapshotSize'], updates: json['updates'], container: json['container'] },
    { epoch: 81, snapshotSize: 5, updates: 2, container: 'append-only file' },
  )
  assert.equal((await aof(['state', '--snapshot', fixture.files.statePlain])).stdout, 'snap2')
})

test('state of a damaged log exits 1 with one line; of a record log exits 2', async () => {
  const damaged = await aof(['state', flipByte(fixture.files.statePlain, join(fixture.dir, 'flip.log'), 150)])
  assert.equal(damaged.status, 1)
  assert.match(damaged.stderr, /^aof: ERR_LOG_\w+: .*\n$/)
  const wrong = await aof(['state', fixture.files.logPlain])
  assert.equal(wrong.status, 2)
  assert.match(wrong.stderr, /^aof: ERR_WRONG_KIND: .* holds record log, not a state log\n$/)
})

test('compact rewrites a plain state log and one in an append-only file', async () => {
  for (const path of [fixture.files.statePlain, fixture.files.stateAof]) {
    const run = await aof(['compact', '--json', path])
    assert.equal(run.status, 0, run.stderr)
    const result = JSON.parse(run.stdout) as Record<string, unknown>
    assert.deepEqual(
      { compacted: result['compacted'], sizeBefore: result['sizeBefore'], sizeAfter: result['sizeAfter'], epochBefore: result['epochBefore'] },
      { compacted: true, sizeBefore: path === fixture.files.statePlain ? 162 : result['sizeBefore'], sizeAfter: 81, epochBefore: 81 },
    )
    const state = JSON.parse((await aof(['state', '--json', path])).stdout) as Record<string, unknown>
    assert.deepEqual([state['epoch'], state['snapshotSize'], state['updates']], [0, 5, 2])
    assert.match((await aof(['compact', path])).stdout, /^ok: .*nothing to drop/)
    assert.equal((await aof(['verify', path])).status, 0)
  }
  assert.equal(sizeOf(fixture.files.statePlain), 81)
  assert.equal((await aof(['compact', fixture.files.rawFinished])).status, 2)
})
