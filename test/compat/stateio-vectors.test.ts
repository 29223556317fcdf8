/**
 * Compatibility with the reference Go stateio: every vector in test/fixtures/vectors/stateio is
 * replayed through our StateWriter (same bytes, same epochs, and `reopen` restores the same
 * epoch) and our restore (same state, epoch, updates and errors), from bytes and from a file.
 * Where we deviate on purpose (docs/FORMAT.md, "The state log") the test states our result
 * next to the reference's, so that each deviation is exactly the one intended.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'
import type { LogSource } from '../../src/log/sources.ts'
import { restore } from '../../src/state/restore.ts'
import type { RestoreSource } from '../../src/state/restore.ts'
import { StateWriter } from '../../src/state/state-writer.ts'

const DIR = fileURLToPath(new URL('../fixtures/vectors/stateio/', import.meta.url))

interface Op {
  op: 'update' | 'snapshot' | 'raw' | 'reopen'
  data?: string
  entry_offset?: number
  end_offset: number
  epoch_after: number
  restored_epoch?: number
}

interface ExpectedUpdate {
  update?: string
  error?: string
  error_name?: string
}

interface StateCase {
  name: string
  category: string
  file: string
  file_length: number
  file_sha256: string
  ops?: Op[]
  base?: string
  mutation?: { kind: string; limit?: number }
  restore_limit: number
  restore: {
    state: string | null
    epoch: number
    updates_nil: boolean
    updates: ExpectedUpdate[]
    error: string | null
    error_name?: string
  }
}

const vectors = JSON.parse(readFileSync(DIR + 'cases.json', 'utf8')) as { format: string; cases: StateCase[] }

/** A restore result in comparable form. */
type Result = { error: string } | { state: string | null; epoch: number; updates: string[] }

const CODES: Record<string, string> = {
  'stateio.ErrCorrupt': 'ERR_STATE_CORRUPT',
  'logio.ErrCorrupted': 'ERR_LOG_CORRUPTED',
  'io.ErrUnexpectedEOF': 'ERR_LOG_UNEXPECTED_EOF',
  // Restore's "EOF" on a non-empty log with no record: we report a corrupted log.
  'io.EOF': 'ERR_LOG_CORRUPTED',
}

function expected(testCase: StateCase): Result {
  const r = testCase.restore
  if (r.error !== null) return { error: CODES[r.error_name as string] as string }
  const updates: string[] = []
  for (const item of r.updates) {
    if (item.update !== undefined) updates.push(item.update)
    else if (item.error_name !== 'io.EOF') updates.push(CODES[item.error_name as string] as string)
  }
  return { state: r.state, epoch: r.epoch, updates }
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64')
}

function ours(source: RestoreSource, limit: number): Result {
  let restored
  try {
    restored = restore(source, limit)
  } catch (error) {
    assert.ok(isAofkitError(error), `not an AofkitError: ${String(error)}`)
    return { error: error.code }
  }
  const updates: string[] = []
  for (let step = 0; step < 10_000; step++) {
    try {
      const update = restored.updates.read()
      if (update === null) break
      updates.push(b64(update))
    } catch (error) {
      assert.ok(isAofkitError(error), `not an AofkitError: ${String(error)}`)
      updates.push(error.code)
      if (error.code === 'ERR_LOG_UNEXPECTED_EOF') break
    }
  }
  assert.equal(restored.updates.read(), null, 'the end is final')
  return { state: restored.state === null ? null : b64(restored.state), epoch: restored.epoch, updates }
}

/**
 * Our deliberate deviation: restore never reads at or past `limit`, where the reference reads
 * on after rewinding. Each entry gives our result from the reference's, checking the
 * reference's result is the one we expect to differ from.
 */
const deviations = new Map<string, (reference: Result) => Result>([
  // The last update lies at the limit: the reference returns it, we stop before it.
  [
    'limit_at_last_entry',
    (reference) => {
      assert.ok('updates' in reference && reference.updates.length === 2)
      return { ...reference, updates: reference.updates.slice(0, 1) }
    },
  ],
  // The limit cuts the epoch's 2-block snapshot: the reference reads it whole past the limit;
  // we find its second record cut short, as in a file truncated there.
  [
    'limit_mid_snapshot',
    (reference) => {
      assert.ok('state' in reference && reference.epoch === 167)
      return { error: 'ERR_LOG_CORRUPTED' }
    },
  ],
])

const byName = new Map(vectors.cases.map((c) => [c.name, c]))

describe('stateio vectors', () => {
  test('the fixtures are the reference files (length and SHA-256)', () => {
    assert.equal(vectors.format, 'stateio')
    assert.ok(vectors.cases.length >= 40)
    for (const testCase of vectors.cases) {
      const bytes = readFileSync(DIR + testCase.file)
      assert.equal(bytes.length, testCase.file_length, testCase.name)
      assert.equal(createHash('sha256').update(bytes).digest('hex'), testCase.file_sha256, testCase.name)
    }
  })

  describe('writer: same bytes and epochs as the reference', () => {
    for (const testCase of vectors.cases.filter((c) => c.ops !== undefined)) {
      test(testCase.name, async () => {
        const sink = new MemorySink()
        let writer = StateWriter.fromSink(sink, { epoch: 0, offset: 0 })
        for (const [index, op] of (testCase.ops ?? []).entries()) {
          const data = new Uint8Array(Buffer.from(op.data ?? '', 'base64'))
          const at = `${testCase.name} op ${index} (${op.op})`
          if (op.op === 'update') await writer.update(data)
          else if (op.op === 'snapshot') await writer.snapshot(data)
          else if (op.op === 'raw') {
            // A record-log entry appended by another writer at the end; stateio goes on.
            new LogWriter(sink).append(data)
            writer = StateWriter.fromSink(sink, { epoch: writer.epoch })
          } else {
            // NewFileWriter: restore what is there, go on at the end with its epoch.
            const restored = restore(sink.bytes().slice())
            assert.equal(restored.epoch, op.restored_epoch, at)
            writer = StateWriter.fromSink(sink, { epoch: restored.epoch })
          }
          assert.equal(sink.size, op.end_offset, at)
          assert.equal(writer.epoch, op.epoch_after, at)
        }
        const file = readFileSync(DIR + testCase.file)
        assert.equal(Buffer.compare(sink.bytes(), file), 0, `${testCase.name}: bytes differ`)
      })
    }
  })

  describe('restore: same state, epoch, updates and errors', () => {
    for (const testCase of vectors.cases) {
      test(testCase.name, () => {
        const bytes = new Uint8Array(readFileSync(DIR + testCase.file))
        const reference = expected(testCase)
        const deviation = deviations.get(testCase.name)
        const want = deviation === undefined ? reference : deviation(reference)
        assert.deepEqual(ours(bytes, testCase.restore_limit), want, 'from bytes')
        assert.deepEqual(ours(DIR + testCase.file, testCase.restore_limit), want, 'from a path')
        // Never reading at or past the limit: the same as the file cut there.
        assert.deepEqual(ours(bytes.slice(0, testCase.restore_limit), testCase.restore_limit), want, 'from the cut file')
      })
    }
  })

  test('every deviation names a real case', () => {
    for (const name of deviations.keys()) assert.ok(byName.has(name), name)
  })

  test('restore reads nothing at or past the limit', () => {
    const base = byName.get('corrupt_base') as StateCase
    const bytes = new Uint8Array(readFileSync(DIR + base.file))
    for (const limit of [0, 1, 16, 100, 167, 32768, 32818, 50314, 50488, bytes.length]) {
      const inner = new MemorySource(bytes)
      let highest = -1
      const spy: LogSource = {
        size: inner.size,
        stable: true,
        read(offset, length) {
          const view = inner.read(offset, length)
          if (view.length > 0) highest = Math.max(highest, offset + view.length - 1)
          return view
        },
      }
      try {
        const restored = restore(spy, limit)
        for (;;) {
          try {
            if (restored.updates.read() === null) break
          } catch (error) {
            if (isAofkitError(error, 'ERR_LOG_UNEXPECTED_EOF')) break
          }
        }
      } catch (error) {
        assert.ok(isAofkitError(error), String(error))
      }
      assert.ok(highest < limit, `limit ${limit}: read byte ${highest}`)
    }
  })
})
