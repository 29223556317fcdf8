/**
 * Live reading: a reader in live mode that reads any number of entries between appends (as
 * tailLog does, pausing at the end or where its consumer is slow) returns exactly the entries
 * written, in order, wherever the pauses fall: at block ends, in the 1..15 bytes the writer
 * pads, inside multi-block logs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BLOCK_SIZE, HEADER_SIZE } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import type { LogSource } from '../../src/log/sources.ts'
import { entrySize, makeEntry } from './log-arbitraries.ts'

/** A source that sees whatever the sink holds now: a log that grows under its reader. */
class GrowingSource implements LogSource {
  readonly stable = false
  readonly #sink: MemorySink
  constructor(sink: MemorySink) {
    this.#sink = sink
  }
  get size(): number {
    return this.#sink.size
  }
  read(offset: number, length: number): Uint8Array {
    return this.#sink.bytes().subarray(offset, Math.min(offset + length, this.#sink.size))
  }
}

// Sizes that leave the writer 0..16 bytes short of a block end, so pauses land in the padding.
const nearBlockEnd = fc.integer({ min: 0, max: 16 }).map((gap) => BLOCK_SIZE - HEADER_SIZE - gap)

test('a live reader that reads any number of entries between appends returns every entry once, in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.oneof(entrySize, nearBlockEnd), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 30 }),
      (steps) => {
        const sink = new MemorySink()
        const writer = new LogWriter(sink)
        const reader = new LogReader(new GrowingSource(sink), { live: true })
        const seen: Uint8Array[] = []
        // Reads up to `count` entries: pauses fall at the clean end and between entries alike.
        const readSome = (count: number): void => {
          for (let read = 0; read < count; read++) {
            const entry = reader.read()
            if (entry === null) return
            seen.push(entry.slice())
          }
        }
        const written: Uint8Array[] = []
        steps.forEach(([size, reads], index) => {
          const entry = makeEntry(index, size)
          writer.append(entry)
          if (entry.length > 0) written.push(entry)
          readSome(reads)
        })
        readSome(Infinity)
        assert.deepEqual(seen, written)
      },
    ),
    { numRuns: 300 },
  )
})
