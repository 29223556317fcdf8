import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'

import { aof, flipByte, truncatedCopy, useFixtures } from './fixtures.ts'
import type { Fixtures } from './fixtures.ts'

// Each kind of file is told apart from its bytes, and damage makes inspect exit 1.
const fixture = useFixtures('inspect')

test('inspect tells each kind of file apart (JSON)', async () => {
  const expected: [keyof Fixtures, string, string, string | null][] = [
    ['rawFinished', 'append-only file', 'raw bytes', 'finished'],
    ['rawClosed', 'append-only file', 'raw bytes', 'closed, not finished'],
    ['logAof', 'append-only file', 'record log', 'finished'],
    ['logPlain', 'plain file', 'record log', null],
    ['stateAof', 'append-only file', 'state log', 'closed, not finished'],
    ['statePlain', 'plain file', 'state log', null],
  ]
  for (const [name, container, content, life] of expected) {
    const run = await aof(['inspect', '--json', fixture.files[name]])
    assert.equal(run.status, 0, `${name}: ${run.stderr}`)
    const report = JSON.parse(run.stdout) as Record<string, unknown>
    assert.equal(report['container'], container, name)
    assert.equal(report['content'], content, name)
    assert.equal(report['life'], life, name)
    assert.deepEqual(report['damage'], [], name)
  }
})

test('inspect shows sizes, recovery, checkpoints, entries and epochs as text', async () => {
  const raw = await aof(['inspect', fixture.files.rawFinished])
  assert.equal(raw.status, 0)
  assert.match(raw.stdout, /kind\s+append-only file holding raw bytes/)
  assert.match(raw.stdout, /state\s+finished/)
  assert.match(raw.stdout, /data size\s+238 B/)
  assert.match(raw.stdout, /recovery\s+Checkpoint, data ends at 238/)
  assert.match(raw.stdout, /checkpoints\s+1 in the data, at 150/)

  const log = await aof(['inspect', fixture.files.logPlain])
  assert.match(log.stdout, /entries\s+3000 /)

  const state = JSON.parse((await aof(['inspect', '--json', fixture.files.statePlain])).stdout) as {
    state: { snapshots: number; updatesTotal: number; restored: { epoch: number; snapshotSize: number; updates: number } }
  }
  assert.equal(state.state.snapshots, 2)
  assert.equal(state.state.updatesTotal, 4)
  assert.deepEqual(state.state.restored, { epoch: 81, snapshotSize: 5, updates: 2, updateBytes: 4 })
})

test('inspect of a damaged copy reports the damage and exits 1', async () => {
  const tail = flipByte(fixture.files.rawFinished, join(fixture.dir, 'bad-tail.aof'), 240)
  const run = await aof(['inspect', tail])
  assert.equal(run.status, 1)
  assert.match(run.stdout, /state\s+damaged: no magic number ends the data/)
  assert.match(run.stdout, /bytes 158\.\.246 \(88 B\) file: ERR_AOF_CORRUPTED/)

  const torn = truncatedCopy(fixture.files.logPlain, join(fixture.dir, 'torn.log'), 150000)
  const json = JSON.parse((await aof(['inspect', '--json', torn])).stdout) as { ok: boolean; damage: { begin: number; end: number }[] }
  assert.equal(json.ok, false)
  assert.deepEqual(
    json.damage.map((range) => [range.begin, range.end]),
    [[149940, 150000]],
  )
})
