import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'

import { aof, flipByte, truncatedCopy, useFixtures } from './fixtures.ts'

// verify reads every record; a flipped byte or a cut gives a damaged range and exit 1.
const fixture = useFixtures('verify')

test('verify passes every good file', async () => {
  for (const name of ['rawFinished', 'logAof', 'logPlain', 'bigEntryLog', 'stateAof', 'statePlain'] as const) {
    const run = await aof(['verify', fixture.files[name]])
    assert.equal(run.status, 0, `${name}: ${run.stdout}${run.stderr}`)
    assert.match(run.stdout, /^ok: /)
  }
  assert.match((await aof(['verify', fixture.files.logPlain])).stdout, /3000 entries of a record log/)
})

test('verify names each damaged range; --thorough finds the entries resync skips', async () => {
  const flipped = flipByte(fixture.files.logPlain, join(fixture.dir, 'flip.log'), 40000)
  const run = await aof(['verify', flipped])
  assert.equal(run.status, 1)
  assert.match(run.stdout, /^damaged: .*2489 entries/)
  assert.match(run.stdout, /bytes 39983\.\.65569 \(25586 B\) log: ERR_LOG_CORRUPTED/)

  const thorough = JSON.parse((await aof(['verify', '--thorough', '--json', flipped])).stdout) as {
    damage: { begin: number; end: number; salvageable: number[] }[]
  }
  assert.equal(thorough.damage.length, 1)
  assert.equal(thorough.damage[0]?.salvageable.length, 510)
})

test('verify reports a torn multi-block entry, a cut state log and a bad state entry', async () => {
  const big = truncatedCopy(fixture.files.bigEntryLog, join(fixture.dir, 'big-torn.log'), 190000)
  const bigRun = await aof(['verify', '--json', big])
  assert.equal(bigRun.status, 1)
  const bigJson = JSON.parse(bigRun.stdout) as { log: { entries: number }; damage: { begin: number; end: number }[] }
  assert.equal(bigJson.log.entries, 3)
  assert.deepEqual(bigJson.damage.map((range) => [range.begin, range.end]), [[150105, 190000]])

  // Cut inside the last record's header: the reader ignores those bytes, verify does not.
  const state = truncatedCopy(fixture.files.statePlain, join(fixture.dir, 'torn-state.log'), 150)
  const stateRun = await aof(['verify', state])
  assert.equal(stateRun.status, 1)
  assert.match(stateRun.stdout, /bytes 136\.\.150 .*14 bytes after the last entry/)
})

test('verify of a damaged append-only file tail', async () => {
  // A live file's MagicTail (data 0..35) damaged: the zeros after it still say append-only file.
  const run = await aof(['verify', flipByte(fixture.files.rawClosed, join(fixture.dir, 'raw-bad.aof'), 40)])
  assert.equal(run.status, 1)
  assert.match(run.stdout, /bytes 0\.\.43 \(43 B\) file: ERR_AOF_CORRUPTED: no magic number ends the data/)
  // A finished file's final MagicCheckpoint damaged: without zeros or a sidecar it reads as a
  // plain record log with 8 bytes of garbage after its last entry.
  const log = await aof(['verify', flipByte(fixture.files.logAof, join(fixture.dir, 'log-bad.aof'), 9795)])
  assert.equal(log.status, 1)
  assert.match(log.stdout, /200 entries .*\n {2}bytes 9790\.\.9798 \(8 B\) log: ERR_LOG_CORRUPTED/)
})
