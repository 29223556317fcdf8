/**
 * Compatibility with the reference Go logio: every vector in test/fixtures/vectors/logio is
 * replayed through our writer (same bytes, same Tell), reader (same entries and errors) and
 * rewind (same offsets and failures). Where we deliberately deviate for safety (docs/FORMAT.md)
 * the test asserts our result explicitly, and also checks that with offset verification off
 * the reader reproduces the reference exactly.
 */
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import type { ErrorCode } from '../../src/errors.ts'
import xxhashWasm from 'xxhash-wasm'
import { checksumRange } from '../../src/log/checksum.ts'
import { BLOCK_SIZE, HEADER_SIZE, aligned } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import type { LogReaderOptions } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { rewind } from '../../src/log/rewind.ts'
import { FileSink, MemorySink } from '../../src/log/sinks.ts'
import { FileSource, MemorySource } from '../../src/log/sources.ts'
import type { LogSource } from '../../src/log/sources.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { caseBytes, entryOutcome, expectedOutcome, fromBase64, loadCases, sha256 } from './logio-cases.ts'
import type { ExpectedRewind, LogioCase, Outcome } from './logio-cases.ts'

// The reference XXH64 (all 64 bits), to check the vectors' hashes themselves.
const hasher = await xxhashWasm()

const vectors = loadCases()
const byName = new Map(vectors.cases.map((c) => [c.name, c]))

/** Reads until the end or a final error, calling again after ERR_LOG_CORRUPTED, as the vectors do. */
function readAll(source: LogSource, options: LogReaderOptions = {}): Outcome[] {
  const reader = new LogReader(source, options)
  const outcomes: Outcome[] = []
  for (let step = 0; step < 100_000; step++) {
    try {
      const entry = reader.read()
      if (entry === null) {
        outcomes.push('end')
        return outcomes
      }
      outcomes.push(entryOutcome(entry))
    } catch (error) {
      assert.ok(isAofkitError(error), `not an AofkitError: ${String(error)}`)
      outcomes.push({ code: error.code })
      if (error.code !== 'ERR_LOG_CORRUPTED') return outcomes
    }
  }
  throw new Error('reader did not end')
}

type RewindOutcome = { offset: number } | 'end' | 'fails'

function rewindOutcome(source: LogSource, limit: number): RewindOutcome {
  try {
    const offset = rewind(source, limit)
    return offset === null ? 'end' : { offset }
  } catch (error) {
    assert.ok(isAofkitError(error, 'ERR_LOG_CORRUPTED'), `unexpected rewind error ${String(error)}`)
    return 'fails'
  }
}

function expectedRewind(step: ExpectedRewind): RewindOutcome {
  if (step.offset !== undefined) return { offset: step.offset }
  if (step.error_name === 'io.EOF') return 'end'
  // A Go panic or a "negative offset" read error: the reference fails; we throw.
  assert.ok(step.panic !== undefined || step.error_name === 'other', JSON.stringify(step))
  return 'fails'
}

/**
 * Our deliberate deviations: the reference never checks record offsets when reading, and so
 * returns entries stitched from records of different entries (README §5.7). Our reader reports
 * ERR_LOG_CORRUPTED at the out-of-place record instead of the stitched entry, and resyncs right
 * after that record (its block is intact), so every other result equals the reference's. For
 * each case: the index of the reference's stitched entry, and its length, checked so that the
 * replacement is exactly the one intended.
 */
const deviations = new Map<string, { index: number; stitchedLength: number }>([
  // The block holding a MIDDLE record was deleted: FIRST + LAST make a 37247-byte entry that
  // was never written (the real one has 70000 bytes).
  ['delete_block_2', { index: 4, stitchedLength: 37247 }],
  // A MIDDLE block repeated: the reference returns 102753 bytes, 32753 more than were written.
  ['duplicate_block_2', { index: 4, stitchedLength: 102753 }],
  // Crafted: the FIRST of one entry followed by the LAST of another.
  ['crafted_spliced_offsets', { index: 0, stitchedLength: 6 }],
])

/**
 * A start in the writer's padding (the last 15 bytes of a block, or zeros from 1..14 bytes
 * past a boundary): the reference reads the padding as a damaged block and resyncs to the next
 * one; ours starts at that boundary. The reference's first result is that corruption, and every
 * later one is ours too.
 */
const startDeviations = new Set([
  'offset_10_zero_prefix',
  'offset_14_random_prefix_empty_entry',
  'offset_32753_log_prefix',
  'offset_32760_log_prefix_empty_entry',
  'offset_32777_log_zero_prefix',
])

function withStartDeviation(name: string, reference: Outcome[]): Outcome[] {
  if (!startDeviations.has(name)) return reference
  assert.deepEqual(reference[0], { code: 'ERR_LOG_CORRUPTED' }, `${name}: the reference's first result`)
  return reference.slice(1)
}

function withDeviation(name: string, reference: Outcome[]): Outcome[] {
  const deviation = deviations.get(name)
  if (deviation === undefined) return reference
  const stitched = reference[deviation.index]
  assert.ok(typeof stitched === 'object' && 'length' in stitched, `${name}: no entry at ${deviation.index}`)
  assert.equal(stitched.length, deviation.stitchedLength, `${name}: stitched entry`)
  return reference.map((outcome, index) => (index === deviation.index ? { code: 'ERR_LOG_CORRUPTED' } : outcome))
}

describe('logio vectors: checksum', () => {
  test('worked examples: XXH64 seed 0 and its low 32 bits', () => {
    for (const example of vectors.checksum_examples) {
      const input = fromBase64(example.input)
      assert.equal(hasher.h64Raw(input).toString(16).padStart(16, '0'), example.xxh64)
      assert.equal(checksumRange(input, 0, input.length), example.checksum)
    }
  })

  test('Aligned examples', () => {
    assert.equal(vectors.block_size, BLOCK_SIZE)
    assert.equal(vectors.header_size, HEADER_SIZE)
    for (const example of vectors.aligned_examples) assert.equal(aligned(example.offset), example.aligned)
  })

  test('fixture files are intact', () => {
    for (const testCase of vectors.cases) {
      const bytes = caseBytes(testCase)
      assert.equal(bytes.length, testCase.file_length, testCase.name)
      assert.equal(sha256(bytes), testCase.file_sha256, testCase.name)
    }
  })
})

describe('logio vectors: writer', () => {
  const written = vectors.cases.filter((c) => c.appends !== undefined)

  test('memory sink: identical bytes, entry offsets and Tell for every written case', () => {
    assert.ok(written.length >= 30, 'written cases')
    for (const testCase of written) {
      const bytes = caseBytes(testCase)
      const start = testCase.start_offset ?? 0
      const sink = new MemorySink({ initial: bytes.subarray(0, start) })
      const writer = new LogWriter(sink)
      const entries = (testCase.entries ?? []).map(fromBase64)
      entries.forEach((entry, index) => {
        const expected = testCase.appends?.[index]
        assert.ok(expected !== undefined, `${testCase.name}: appends`)
        const where = `${testCase.name} entry ${index}`
        assert.equal(writer.tell(), expected.tell_before, where)
        const entryOffset = writer.append(entry)
        if (expected.entry_offset !== null) assert.equal(entryOffset, expected.entry_offset, where)
        assert.equal(writer.position, expected.end_offset, where)
        assert.equal(writer.tell(), expected.tell_after, where)
      })
      assert.equal(sink.size, bytes.length, testCase.name)
      assert.ok(Buffer.from(sink.bytes()).equals(bytes), `${testCase.name}: bytes differ`)
    }
  })

  test('file sink (fd and FileHandle paths): identical bytes for every written case', (t) => {
    const dir = tmpDir(t)
    for (const testCase of written) {
      const bytes = caseBytes(testCase)
      const start = testCase.start_offset ?? 0
      const path = join(dir, testCase.file)
      const fd = openSync(path, 'w+')
      try {
        writeSync(fd, bytes, 0, start)
        const writer = new LogWriter(new FileSink(fd, { path }))
        for (const entry of testCase.entries ?? []) writer.append(fromBase64(entry))
        writer.flush()
      } finally {
        closeSync(fd)
      }
      assert.ok(readFileSync(path).equals(bytes), `${testCase.name}: file bytes differ`)
    }
  })

  test('torn appends and concatenations are reproduced by fresh writers', () => {
    let checked = 0
    for (const testCase of vectors.cases) {
      const mutation = testCase.mutation
      if (mutation === undefined) continue
      const bytes = caseBytes(testCase)
      if (mutation.kind === 'torn_append') {
        const base = caseBytes(byName.get(testCase.base as string) as LogioCase)
        const sink = new MemorySink({ initial: base.subarray(0, mutation.truncate) })
        const writer = new LogWriter(sink, { offset: mutation.start_offset as number })
        for (const entry of mutation.appended_entries ?? []) writer.append(fromBase64(entry))
        assert.ok(Buffer.from(sink.bytes()).equals(bytes), testCase.name)
        checked++
      } else if (mutation.kind === 'concat') {
        const first = new MemorySink()
        const writer = new LogWriter(first)
        for (const entry of mutation.first_entries ?? []) writer.append(fromBase64(entry))
        let prefix = first.bytes().slice()
        if (mutation.pad_to_block === true && prefix.length < BLOCK_SIZE) {
          const padded = new Uint8Array(BLOCK_SIZE)
          padded.set(prefix)
          prefix = padded
        }
        const second = new MemorySink()
        const writer2 = new LogWriter(second)
        for (const entry of mutation.second_entries ?? []) writer2.append(fromBase64(entry))
        assert.ok(Buffer.concat([prefix, second.bytes()]).equals(bytes), testCase.name)
        checked++
      }
    }
    assert.ok(checked >= 4, `only ${checked} cases checked`)
  })
})

describe('logio vectors: reader', () => {
  test('offsets not verified: the same entries and errors as the reference on every case', () => {
    for (const testCase of vectors.cases) {
      const bytes = caseBytes(testCase)
      const expected = testCase.reads.map(expectedOutcome)
      assert.deepEqual(readAll(new MemorySource(bytes), { verifyOffsets: false }), expected, testCase.name)
      if (testCase.reads_from_start_offset !== undefined) {
        const fromStart = testCase.reads_from_start_offset.map(expectedOutcome)
        const offset = testCase.start_offset as number
        assert.deepEqual(
          readAll(new MemorySource(bytes), { verifyOffsets: false, offset }),
          fromStart,
          `${testCase.name} from ${offset}`,
        )
      }
    }
  })

  test('default reader: the reference results, except the documented offset checks', () => {
    const deviated: string[] = []
    const startDeviated: string[] = []
    for (const testCase of vectors.cases) {
      const bytes = caseBytes(testCase)
      const reference = testCase.reads.map(expectedOutcome)
      const expected = withDeviation(testCase.name, reference)
      if (deviations.has(testCase.name)) deviated.push(testCase.name)
      assert.deepEqual(readAll(new MemorySource(bytes)), expected, testCase.name)
      if (testCase.reads_from_start_offset !== undefined) {
        const offset = testCase.start_offset as number
        const fromStart = withStartDeviation(testCase.name, testCase.reads_from_start_offset.map(expectedOutcome))
        if (startDeviations.has(testCase.name)) startDeviated.push(testCase.name)
        assert.deepEqual(readAll(new MemorySource(bytes), { offset }), fromStart, `${testCase.name} from ${offset}`)
      }
    }
    assert.deepEqual(deviated.sort(), [...deviations.keys()].sort())
    assert.deepEqual(startDeviated.sort(), [...startDeviations].sort())
  })

  test('file source with the smallest chunk gives the same results as memory', (t) => {
    const dir = tmpDir(t)
    for (const testCase of vectors.cases) {
      const bytes = caseBytes(testCase)
      const path = join(dir, testCase.file)
      const fd = openSync(path, 'w+')
      try {
        writeSync(fd, bytes)
        const fromFile = readAll(new FileSource(fd, { chunkSize: BLOCK_SIZE, path }))
        assert.deepEqual(fromFile, readAll(new MemorySource(bytes)), testCase.name)
      } finally {
        closeSync(fd)
      }
    }
  })

  test('after the end, read() keeps returning the same end (reference bug §5.10 not reproduced)', () => {
    for (const name of ['random_mixed_40', 'trunc_at_block_1', 'trunc_at_block_3', 'empty']) {
      const testCase = byName.get(name) as LogioCase
      const reader = new LogReader(new MemorySource(caseBytes(testCase)))
      const outcomes = readAll(new MemorySource(caseBytes(testCase)))
      const last = outcomes.at(-1)
      for (let i = 0; i < outcomes.length - 1; i++) {
        try {
          reader.read()
        } catch {
          // Corruption errors on the way; the point is what comes after the end.
        }
      }
      for (let again = 0; again < 3; again++) {
        if (last === 'end') {
          assert.equal(reader.read(), null, name)
        } else {
          assert.throws(() => reader.read(), (error: unknown) => isAofkitError(error, (last as { code: ErrorCode }).code))
        }
      }
    }
  })
})

describe('logio vectors: rewind', () => {
  test('walks and probes: the same offsets as the reference; crashes become ERR_LOG_CORRUPTED', () => {
    let failures = 0
    for (const testCase of vectors.cases) {
      const source = new MemorySource(caseBytes(testCase))
      for (const step of [...testCase.rewind_walk, ...(testCase.rewind_probes ?? [])]) {
        const expected = expectedRewind(step)
        if (expected === 'fails') failures++
        assert.deepEqual(rewindOutcome(source, step.limit), expected, `${testCase.name} limit ${step.limit}`)
      }
    }
    assert.ok(failures >= 3, 'the vectors include rewinds that crash the reference')
  })

  test('file source gives the same rewind results (backward chunked reads)', (t) => {
    const dir = tmpDir(t)
    for (const testCase of vectors.cases) {
      const bytes = caseBytes(testCase)
      const path = join(dir, testCase.file)
      const fd = openSync(path, 'w+')
      try {
        writeSync(fd, bytes)
        const source = new FileSource(fd, { chunkSize: 2 * BLOCK_SIZE })
        for (const step of testCase.rewind_walk) {
          assert.deepEqual(rewindOutcome(source, step.limit), expectedRewind(step), `${testCase.name} ${step.limit}`)
        }
      } finally {
        closeSync(fd)
      }
    }
  })
})
