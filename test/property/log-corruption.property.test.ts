/**
 * Corruption: whatever happens to a log file (bit flips, truncation, deleted or inserted
 * ranges, garbage), the reader yields only entries that were written, in the order they were
 * written, plus ERR_LOG_CORRUPTED / ERR_LOG_UNEXPECTED_EOF errors; it never returns a wrong
 * entry, never hangs, never throws anything else; rewind likewise only returns offsets below
 * its limit or fails with ERR_LOG_CORRUPTED. When a range of the file is copied elsewhere
 * (a duplicated block), the copies are genuine records, so entries may come back again: there
 * we check membership rather than order.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isAofkitError } from '../../src/errors.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { rewind } from '../../src/log/rewind.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'
import { entrySize, makeEntry } from './log-arbitraries.ts'

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'copy'; from: number; length: number; to: number }

// Positions and lengths are fractions of the file, so they fit whatever its size.
const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fraction, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
  fc.record({ kind: fc.constant('delete' as const), at: fraction, length: fc.integer({ min: 1, max: 70_000 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fraction,
    bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 40_000 }).map((n) => new Uint8Array(n))),
  }),
  fc.record({ kind: fc.constant('copy' as const), from: fraction, length: fc.integer({ min: 1, max: 70_000 }), to: fraction }),
)

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length
  const pos = (f: number) => Math.floor(f * n)
  switch (m.kind) {
    case 'flip': {
      const out = bytes.slice()
      if (n > 0) out[pos(m.at)] = (out[pos(m.at)] as number) ^ (1 << m.bit)
      return out
    }
    case 'truncate':
      return bytes.slice(0, pos(m.at))
    case 'delete':
      return Buffer.concat([bytes.subarray(0, pos(m.at)), bytes.subarray(pos(m.at) + m.length)])
    case 'insert':
      return Buffer.concat([bytes.subarray(0, pos(m.at)), m.bytes, bytes.subarray(pos(m.at))])
    case 'copy': {
      const piece = bytes.subarray(pos(m.from), pos(m.from) + m.length)
      return Buffer.concat([bytes.subarray(0, pos(m.to)), piece, bytes.subarray(pos(m.to))])
    }
  }
}

test('a damaged log yields only written entries, in order, plus log errors; rewind stays sane', () => {
  fc.assert(
    fc.property(fc.array(entrySize, { minLength: 1, maxLength: 16 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (sizes, mutations) => {
      const sink = new MemorySink()
      const writer = new LogWriter(sink)
      const entries = sizes.map((size, index) => makeEntry(index, size))
      for (const entry of entries) writer.append(entry)
      let bytes: Uint8Array = sink.bytes().slice()
      for (const m of mutations) bytes = apply(bytes, m)
      const copied = mutations.some((m) => m.kind === 'copy')
      const written = entries.filter((entry) => entry.length > 0).map((entry) => Buffer.from(entry).toString('hex'))

      const reader = new LogReader(new MemorySource(bytes))
      let next = 0 // Index in `written` the next entry may be found from.
      let ended = false
      // Each read consumes at least one record or one block, so this bound is generous.
      for (let step = 0; step < bytes.length + 10 && !ended; step++) {
        try {
          const entry = reader.read()
          if (entry === null) {
            ended = true
            break
          }
          const hex = Buffer.from(entry).toString('hex')
          const found = copied ? written.indexOf(hex) : written.indexOf(hex, next)
          assert.ok(found >= 0, `read an entry of ${entry.length} bytes that was never written (or out of order)`)
          next = found + 1
        } catch (error) {
          assert.ok(isAofkitError(error), `not an AofkitError: ${String(error)}`)
          if (error.code === 'ERR_LOG_UNEXPECTED_EOF') ended = true
          else assert.equal(error.code, 'ERR_LOG_CORRUPTED')
        }
      }
      assert.ok(ended, 'the reader reached an end')

      const source = new MemorySource(bytes)
      let limit = bytes.length
      for (let step = 0; step <= bytes.length; step++) {
        let at: number | null
        try {
          at = rewind(source, limit)
        } catch (error) {
          assert.ok(isAofkitError(error, 'ERR_LOG_CORRUPTED'), String(error))
          break
        }
        if (at === null) break
        assert.ok(at >= 0 && at < limit, `rewind(${limit}) returned ${at}`)
        limit = at
      }
    }),
    { numRuns: 150 },
  )
})
