// The scan helpers behind `aof verify`, `aof recover` and recovery's torn-entry check, on their
// own: scanLog's counts and damaged ranges, readEntry's error as a value, and the salvage search
// (findEntries, findEntry) for entries the reader's resync skips.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ErrorCode } from '../../src/errors.ts'
import { HEADER_SIZE } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { findEntries, findEntry, readEntry, scanLog } from '../../src/log/scan.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'

/** A log of `sizes.length` entries (entry k filled with k + 1), with each entry's offset. */
function log(sizes: number[]): { bytes: Uint8Array; offsets: number[] } {
  const sink = new MemorySink()
  const writer = new LogWriter(sink)
  const offsets = sizes.map((size, k) => writer.append(new Uint8Array(size).fill(k + 1)))
  return { bytes: sink.bytes().slice(), offsets }
}

test('a whole log: every entry counted, where the good entries end, no damage', () => {
  const { bytes, offsets } = log([10, 100, 40_000, 5])
  const seen: number[] = []
  const scan = scanLog(new MemorySource(bytes), { onEntry: (offset) => seen.push(offset) })
  assert.equal(scan.entries, 4)
  assert.equal(scan.entryBytes, 40_115)
  assert.equal(scan.firstEntry, offsets[0])
  assert.equal(scan.lastEntry, offsets[3])
  assert.equal(scan.goodEnd, bytes.length)
  assert.deepEqual(scan.damaged, [])
  assert.deepEqual(seen, offsets)
})

test('a damaged record: one range from the end of the last good entry to the next good one', () => {
  // The second entry fills the rest of block 0, so the reader resyncs at the third.
  const { bytes, offsets } = log([10, 32_768 - 2 * HEADER_SIZE - 10, 20, 30])
  bytes[offsets[1]! + HEADER_SIZE + 5]! ^= 0xff
  const scan = scanLog(new MemorySource(bytes))
  assert.equal(scan.entries, 3)
  assert.equal(scan.damaged.length, 1)
  const [range] = scan.damaged
  assert.equal(range!.code, ErrorCode.LogCorrupted)
  assert.equal(range!.begin, offsets[1])
  assert.equal(range!.end, offsets[2])
})

test('a log cut inside its last entry: the range runs to the end', () => {
  const { bytes, offsets } = log([10, 50_000])
  const cut = bytes.subarray(0, offsets[1]! + 40_000)
  const scan = scanLog(new MemorySource(cut))
  assert.equal(scan.entries, 1)
  assert.equal(scan.goodEnd, offsets[1])
  assert.equal(scan.damaged.length, 1)
  assert.equal(scan.damaged[0]!.begin, offsets[1])
  assert.equal(scan.damaged[0]!.end, cut.length)
})

test('bytes after the last entry that hold no record are damage; zeros are not', () => {
  const { bytes } = log([10])
  const zeros = new Uint8Array(bytes.length + 8)
  zeros.set(bytes)
  assert.deepEqual(scanLog(new MemorySource(zeros)).damaged, [])
  const junk = zeros.slice()
  junk[bytes.length + 3] = 7
  const scan = scanLog(new MemorySource(junk))
  assert.equal(scan.damaged.length, 1)
  assert.equal(scan.damaged[0]!.begin, bytes.length)
  assert.equal(scan.damaged[0]!.end, junk.length)
})

test('scanning from an entry start counts from there', () => {
  const { bytes, offsets } = log([10, 20, 30])
  const scan = scanLog(new MemorySource(bytes), { from: offsets[1]! })
  assert.equal(scan.begin, offsets[1])
  assert.equal(scan.entries, 2)
  assert.equal(scan.firstEntry, offsets[1])
})

test('readEntry returns the damage as a value, the entry, then null at the end', () => {
  const { bytes, offsets } = log([10, 20])
  bytes[offsets[0]! + HEADER_SIZE]! ^= 0xff
  const reader = new LogReader(new MemorySource(bytes))
  const first = readEntry(reader)
  assert.ok(first instanceof Error)
  assert.equal((first as { code?: unknown }).code, ErrorCode.LogCorrupted)
  let entry = readEntry(reader)
  while (entry instanceof Error) entry = readEntry(reader)
  assert.ok(entry === null || entry.length === 20)
})

test('salvage finds the whole entries that the resync after a damaged record skips', () => {
  // All in block 0: a damaged first record makes the reader skip the rest of the block.
  const { bytes, offsets } = log([10, 20, 30])
  bytes[offsets[0]! + HEADER_SIZE + 1]! ^= 0xff
  assert.equal(scanLog(new MemorySource(bytes)).entries, 0)
  const source = new MemorySource(bytes)
  assert.deepEqual(findEntries(source, 0, bytes.length), [offsets[1], offsets[2]])
  assert.deepEqual(findEntry(source, 0, bytes.length)?.offset, offsets[1])
  assert.equal(findEntry(source, offsets[2]! + 1, bytes.length), null)
})
