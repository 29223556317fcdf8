/**
 * Every position the record log hands out is a place to start reading: the offsets `append`
 * returns, `tell()` and `position` before and after each append, and a reader's `position` and
 * `entryOffset` after each entry. A reader started at any of them reads exactly the entries
 * from there on, whatever the sizes and the start offset (entries ending 0..15 bytes before a
 * block end included). Offsets that are not such places (inside a record, on a continuation
 * record, past the end) are refused with ERR_AOF_INVALID_ARGUMENT, not reported as corruption.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isAofkitError } from '../../src/errors.ts'
import { BLOCK_SIZE, HEADER_SIZE, blockOffset, paddingBefore } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'
import { entrySize, makeEntry, startOffset } from './log-arbitraries.ts'

interface Written {
  bytes: Uint8Array
  entries: Uint8Array[]
  /** Where each non-empty entry starts. */
  offsets: number[]
  /** Every position the writer handed out. */
  positions: number[]
}

function write(sizes: number[], start: number): Written {
  const sink = new MemorySink({ initial: new Uint8Array(start) })
  const writer = new LogWriter(sink)
  const entries: Uint8Array[] = []
  const offsets: number[] = []
  const positions = [writer.tell(), writer.position]
  sizes.forEach((size, index) => {
    const entry = makeEntry(index, size)
    const offset = writer.append(entry)
    positions.push(offset, writer.tell(), writer.position)
    if (size > 0) {
      entries.push(entry)
      offsets.push(offset)
    }
  })
  return { bytes: sink.bytes().slice(), entries, offsets, positions }
}

/** The entries a reader started at `position` must return. */
function expectedFrom(written: Written, position: number): Uint8Array[] {
  return written.entries.filter((_, index) => (written.offsets[index] as number) >= position)
}

function readFrom(bytes: Uint8Array, offset: number, live = false): Uint8Array[] {
  const reader = new LogReader(new MemorySource(bytes), { offset, live })
  const got: Uint8Array[] = []
  for (let entry = reader.read(); entry !== null; entry = reader.read()) got.push(entry)
  return got
}

function checkEveryPosition(written: Written): void {
  const { bytes } = written
  const positions = new Set(written.positions)
  // A reader's own positions, entry by entry, from where the writer started.
  const reader = new LogReader(new MemorySource(bytes), { offset: written.positions[1] as number })
  positions.add(reader.position)
  while (reader.read() !== null) {
    positions.add(reader.position)
    positions.add(reader.entryOffset)
  }
  for (const position of positions) {
    if (position > bytes.length) continue // A tell() past the data: nothing written there yet.
    const expected = expectedFrom(written, position)
    assert.deepEqual(readFrom(bytes, position), expected, `from ${position}`)
    assert.deepEqual(readFrom(bytes, position, true), expected, `live from ${position}`)
  }
}

test('entries ending 0..16 bytes before a block end: every position handed out is a place to start', () => {
  for (const start of [0, 10, BLOCK_SIZE]) {
    for (let gap = 0; gap <= 16; gap++) {
      // One entry that ends `gap` bytes before the first block end after `start`, then more.
      const at = start + paddingBefore(start)
      const first = BLOCK_SIZE - blockOffset(at) - HEADER_SIZE - gap
      checkEveryPosition(write([first, 5, 0, BLOCK_SIZE - HEADER_SIZE - gap, 40_000, 1], start))
    }
  }
})

test('any entries from any start offset: every position handed out is a place to start', () => {
  fc.assert(
    fc.property(fc.array(entrySize, { maxLength: 16 }), startOffset, (sizes, start) => {
      checkEveryPosition(write(sizes, start))
    }),
    { numRuns: 100 },
  )
})

test('an offset inside a record, on a continuation record or past the end is ERR_AOF_INVALID_ARGUMENT', () => {
  fc.assert(
    fc.property(fc.array(entrySize, { minLength: 1, maxLength: 12 }), fc.nat(), (sizes, pick) => {
      const written = write(sizes, 0)
      const { bytes } = written
      const invalid = (offset: number): void => {
        assert.throws(
          () => readFrom(bytes, offset),
          (error: unknown) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT'),
          `from ${offset}`,
        )
      }
      invalid(bytes.length + 1 + (pick % 100))
      if (written.entries.length === 0) return
      const index = pick % written.entries.length
      const offset = written.offsets[index] as number
      const entry = written.entries[index] as Uint8Array
      // Inside its first record (not in a block's last 15 bytes, where the writer may pad).
      const recordEnd = Math.min(offset + HEADER_SIZE + entry.length, offset - blockOffset(offset) + BLOCK_SIZE - HEADER_SIZE)
      if (recordEnd > offset + 1) invalid(offset + 1 + (pick % (recordEnd - offset - 1)))
      // On a continuation record: the next block boundary, when the entry runs past it.
      const boundary = offset - blockOffset(offset) + BLOCK_SIZE
      const next = written.offsets[index + 1] ?? bytes.length
      if (boundary < next) invalid(boundary)
    }),
    { numRuns: 150 },
  )
})
