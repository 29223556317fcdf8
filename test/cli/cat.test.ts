import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { aof, entryText, flipByte, useFixtures } from './fixtures.ts'

// cat prints raw bytes, hex dumps, and entries as text or JSON lines, from and to offsets.
const fixture = useFixtures('cat')

const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, k) => `line ${from + k}\n`).join('')

test('cat prints the data of an append-only file, without its magic numbers', async () => {
  const run = await aof(['cat', fixture.files.rawFinished])
  assert.equal(run.status, 0)
  // The data holds a checkpoint's magic number: compare as the same UTF-8 decoding.
  assert.equal(run.stdout, readFileSync(fixture.files.rawFinished).subarray(0, 238).toString('utf8'))
  assert.ok(run.stdout.startsWith(lines(0, 20)))
  assert.equal((await aof(['cat', fixture.files.rawClosed])).stdout, lines(0, 5))
  assert.equal((await aof(['cat', '--from', '7', '--to', '14', fixture.files.rawClosed])).stdout, 'line 1\n')
})

test('cat --hex dumps bytes with offsets', async () => {
  const run = await aof(['cat', '--hex', '--to', '20', fixture.files.rawClosed])
  assert.equal(run.stdout, '00000000  6c 69 6e 65 20 30 0a 6c  69 6e 65 20 31 0a 6c 69  |line 0.line 1.li|\n00000010  6e 65 20 32                                       |ne 2|\n')
})

test('cat --records prints one entry per line; --json as JSON lines', async () => {
  const run = await aof(['cat', '--records', fixture.files.logPlain])
  assert.equal(run.status, 0)
  const got = run.stdout.split('\n')
  assert.equal(got.length, 3001)
  assert.equal(got[0], entryText(0))
  assert.equal(got[2999], entryText(2999))

  const json = (await aof(['cat', '--json', fixture.files.logAof])).stdout.trim().split('\n').map((line) => JSON.parse(line) as { offset: number; size: number; text: string })
  assert.equal(json.length, 200)
  assert.deepEqual(json[1], { offset: 23, size: entryText(1).length, text: entryText(1) })
  // From an entry's offset on, to before another's.
  const some = await aof(['cat', '--records', '--offsets', '--from', String(json[10]!.offset), '--to', String(json[13]!.offset), fixture.files.logAof])
  assert.equal(some.stdout, [10, 11, 12].map((k) => `${json[k]!.offset}\t${entryText(k)}\n`).join(''))

  const state = (await aof(['cat', '--records', fixture.files.statePlain])).stdout
  assert.equal(state, 'update\tu0\nsnapshot\tsnap1\nupdate\tu1\nsnapshot\tsnap2\nupdate\tu2\nupdate\tu3\n')
  const stateJson = JSON.parse((await aof(['cat', '--json', fixture.files.stateAof])).stdout.split('\n')[3]!) as Record<string, unknown>
  assert.deepEqual(stateJson, { offset: 81, size: 5, type: 'snapshot', epoch: 26, text: 'snap2' })
})

test('cat --records of a damaged log skips the damage with a warning and exits 1', async () => {
  const run = await aof(['cat', '--records', flipByte(fixture.files.logPlain, join(fixture.dir, 'flip.log'), 40000)])
  assert.equal(run.status, 1)
  assert.equal(run.stdout.trim().split('\n').length, 2489)
  assert.match(run.stderr, /^aof: warning: ERR_LOG_CORRUPTED: corrupted log record at offset 39983/)
})

test('cat --records of raw data is a usage error', async () => {
  const run = await aof(['cat', '--records', fixture.files.rawFinished])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /^aof: ERR_WRONG_KIND: .* holds raw bytes, not a record log/)
})

test('cat of a log prints its entries, as tail does; --raw prints its bytes', async () => {
  for (const path of [fixture.files.logPlain, fixture.files.logAof, fixture.files.statePlain, fixture.files.stateAof, fixture.files.bigEntryLog]) {
    const plain = await aof(['cat', path])
    assert.equal(plain.status, 0, plain.stderr)
    assert.equal(plain.stdout, (await aof(['cat', '--records', path])).stdout, path)
    // The last entries are tail's.
    const lastTwo = plain.stdout.split('\n').slice(-3).join('\n')
    assert.equal(lastTwo, (await aof(['tail', '-n', '2', path])).stdout, path)
  }
  const raw = await aof(['cat', '--raw', fixture.files.logPlain])
  assert.equal(raw.status, 0)
  assert.equal(Buffer.byteLength(raw.stdout, 'latin1') > 0, true)
  assert.ok(raw.stdout.includes('entry 0') && raw.stdout.length > (await aof(['cat', fixture.files.logPlain])).stdout.length)
  const hex = await aof(['cat', '--raw', '--hex', '--to', '16', fixture.files.logPlain])
  assert.match(hex.stdout, /^00000000 {2}([0-9a-f]{2} ){8} ([0-9a-f]{2} ){8} \|.{16}\|\n$/)
  const both = await aof(['cat', '--raw', '--records', fixture.files.logPlain])
  assert.equal(both.status, 2)
  assert.match(both.stderr, /^aof: ERR_USAGE: --raw prints bytes/)
})
