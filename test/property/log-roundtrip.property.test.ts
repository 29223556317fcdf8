/**
 * Round trip: any sequence of entries written from any start offset reads back identical, in
 * order, with a clean end; and rewind walks back over exactly their offsets. Sizes are drawn
 * around the block and header boundaries (as logio_test.go forces them) as well as at random,
 * including multi-block entries.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { BLOCK_SIZE } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { rewind } from '../../src/log/rewind.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'
import { entrySize, makeEntry, startOffset } from './log-arbitraries.ts'

test('any entries written from any offset read back identical, and rewind finds each one', () => {
  fc.assert(
    fc.property(fc.array(entrySize, { maxLength: 24 }), startOffset, (sizes, start) => {
      const sink = new MemorySink({ initial: new Uint8Array(start) })
      const writer = new LogWriter(sink)
      const entries = sizes.map((size, index) => makeEntry(index, size))
      const offsets = entries.map((entry) => writer.append(entry))
      const source = new MemorySource(sink.bytes())
      // From `start` itself: where the writer padded first, the reader starts after it.
      const reader = new LogReader(source, { offset: start })
      const written = entries.filter((entry) => entry.length > 0)
      for (const entry of written) assert.deepEqual(reader.read(), entry)
      assert.equal(reader.read(), null)
      // Rewind scans each block from its start, so (as in the reference) it only finds records
      // in a block whose start is log too: check it when the prefix is whole blocks.
      if (start % BLOCK_SIZE !== 0) return
      const expectedOffsets = offsets.filter((_, index) => (entries[index] as Uint8Array).length > 0)
      const walked: number[] = []
      for (let at = rewind(source, source.size); at !== null; at = rewind(source, at)) walked.push(at)
      assert.deepEqual(walked.reverse(), expectedOffsets)
    }),
    { numRuns: 120 },
  )
})
