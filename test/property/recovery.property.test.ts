// Property tests of recoverWithMagic and lastNonZero against a byte model of the writer.
//
// What recoverWithMagic promises (its TSDoc): skip the zeros at the end of [0, fileSize), look at
// the 8 bytes that end at the last non-zero byte: MagicTail -> Tail (tail = their offset),
// MagicCheckpoint -> Checkpoint (tail = checkpoint = their offset); anything else -> Corrupted
// with tail = end of the last MagicCheckpoint in the data (checkpoint = its offset), or 0.
// All zeros -> Empty. It must not modify the bytes. That is checked exactly against an
// independent oracle, and on top of it what the writer's layout makes of it: a clean file
// recovers exactly, and a write torn by a kill never yields a tail past the last complete
// write unless the torn bytes themselves hold a magic number (the sidecar's job, not this one's).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import { DEFAULT_MAGIC, RecoveryKind, recoverWithMagic } from '../../src/index.ts'
import type { Magic, RecoveryResult } from '../../src/index.ts'
import { lastNonZero } from '../../src/aof/recovery.ts'
import {
  CHECKPOINT_BYTES,
  TAIL_BYTES,
  concat,
  finishedImage,
  le64,
  liveImage,
  occurrences,
  roundUp,
  streamOf,
} from '../helpers/aof-model.ts'
import type { Op } from '../helpers/aof-model.ts'

// Small pages keep images small; recovery does not care about the real page size.
const PAGE = 64

interface Expected {
  outcome: RecoveryKind
  tail: number
  checkpoint: number
}

/** The TSDoc of recoverWithMagic, implemented the obvious way. */
function oracle(fileSize: number, bytes: Uint8Array, magic: Magic): Expected {
  let last = fileSize - 1
  while (last >= 0 && bytes[last] === 0) last--
  if (last < 0) return { outcome: RecoveryKind.Empty, tail: 0, checkpoint: -1 }
  const end = last + 1
  if (magic.tail === 0n || magic.checkpoint === 0n) return { outcome: RecoveryKind.Tail, tail: end, checkpoint: -1 }
  if (end >= 8) {
    const window = Buffer.from(bytes.subarray(end - 8, end))
    if (window.equals(le64(magic.tail))) return { outcome: RecoveryKind.Tail, tail: end - 8, checkpoint: -1 }
    if (window.equals(le64(magic.checkpoint))) return { outcome: RecoveryKind.Checkpoint, tail: end - 8, checkpoint: end - 8 }
  }
  const found = occurrences(bytes, le64(magic.checkpoint), end)
  const at = found.length > 0 ? found[found.length - 1]! : -1
  return { outcome: RecoveryKind.Corrupted, tail: at >= 0 ? at + 8 : 0, checkpoint: at }
}

function recover(fileSize: number, bytes: Uint8Array, magic: Magic = DEFAULT_MAGIC): RecoveryResult {
  const before = Buffer.from(bytes)
  const result = recoverWithMagic(fileSize, bytes, magic)
  assert.ok(before.equals(bytes), 'recoverWithMagic modified the bytes it was given')
  assert.equal(result.fileSize, fileSize)
  assert.equal(result.magic, magic)
  return result
}

function assertMatchesOracle(fileSize: number, bytes: Uint8Array, magic: Magic = DEFAULT_MAGIC): RecoveryResult {
  const result = recover(fileSize, bytes, magic)
  const expected = oracle(fileSize, bytes, magic)
  assert.deepEqual({ outcome: result.outcome, tail: result.tail, checkpoint: result.checkpoint }, expected)
  assert.equal(result.error !== undefined, expected.outcome === RecoveryKind.Corrupted, 'error iff Corrupted')
  return result
}

// ---- generators ----

/** Bytes that are often zero and often hold (pieces of) the magic numbers. */
const hostileBytes = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 24 }) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 24 }).map((n) => new Uint8Array(n)) },
      { weight: 1, arbitrary: fc.constant(TAIL_BYTES) },
      { weight: 1, arbitrary: fc.constant(CHECKPOINT_BYTES) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(TAIL_BYTES, CHECKPOINT_BYTES), fc.integer({ min: 1, max: 7 }), fc.boolean())
          .map(([magic, cut, head]) => (head ? magic.subarray(0, cut) : magic.subarray(cut))),
      },
    ),
    { maxLength: 5 },
  )
  .map((parts) => concat(parts))

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: hostileBytes.map((bytes): Op => ({ kind: 'write', bytes })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'checkpoint' }) },
)
const opsArb = fc.array(opArb, { maxLength: 12 })

/** Non-zero bytes past fileSize: recovery must ignore them. */
const garbageArb = fc.uint8Array({ minLength: 0, maxLength: 20 }).map((bytes) => bytes.map((b) => b | 1))

function withGarbage(image: Uint8Array, garbage: Uint8Array): Uint8Array {
  return concat([image, garbage])
}

// A kill -9 leaves the stores that ran: the copy of the record (memcpy stores in any order, so
// any subset of its bytes), then the MagicTail's low word, then its high word.
interface Tear {
  /** Which bytes of the operation's data landed (true) or not. */
  landed: boolean[]
  /** 0: no word of the new MagicTail landed, 1: the low word, 2: both. */
  tailWords: 0 | 1 | 2
}

const tearArb = (length: number): fc.Arbitrary<Tear> =>
  fc.oneof(
    // A prefix of the copy (a forward memcpy).
    fc.integer({ min: 0, max: length }).map((n): Tear => ({ landed: Array.from({ length }, (_, i) => i < n), tailWords: 0 })),
    // Any subset of the copy.
    fc.array(fc.boolean(), { minLength: length, maxLength: length }).map((landed): Tear => ({ landed, tailWords: 0 })),
    // The copy landed, and part or all of the MagicTail.
    fc.constantFrom<0 | 1 | 2>(0, 1, 2).map((tailWords): Tear => ({ landed: Array<boolean>(length).fill(true), tailWords })),
  )

describe('recoverWithMagic', () => {
  it('recovers a live file exactly: Tail at the data size, or Empty before the first write', () => {
    fc.assert(
      fc.property(opsArb, fc.integer({ min: 0, max: 2 }), garbageArb, (ops, extraPages, garbage) => {
        const { image, stream } = liveImage(ops, PAGE, extraPages)
        const result = assertMatchesOracle(image.length, withGarbage(image, garbage))
        if (ops.length === 0) {
          assert.deepEqual([result.outcome, result.tail, result.checkpoint], [RecoveryKind.Empty, 0, -1])
        } else {
          assert.deepEqual([result.outcome, result.tail, result.checkpoint], [RecoveryKind.Tail, stream.data.length, -1])
          assert.equal(result.error, undefined)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('recovers a finished file as Checkpoint at the data size, truncated or padded', () => {
    fc.assert(
      fc.property(opsArb, fc.integer({ min: 0, max: 100 }), garbageArb, (ops, padding, garbage) => {
        const { image, stream } = finishedImage(ops)
        const padded = concat([image, new Uint8Array(padding)])
        for (const bytes of [image, padded]) {
          const result = assertMatchesOracle(bytes.length, withGarbage(bytes, garbage))
          const size = stream.data.length
          assert.deepEqual([result.outcome, result.tail, result.checkpoint], [RecoveryKind.Checkpoint, size, size])
        }
      }),
      { numRuns: 300 },
    )
  })

  it('works with other magic numbers, and without (disabled: data ends at the last non-zero byte)', () => {
    const nonZeroTop = fc.bigInt({ min: 1n << 56n, max: (1n << 64n) - 1n })
    fc.assert(
      fc.property(fc.tuple(nonZeroTop, nonZeroTop), opsArb, ([tail, checkpoint], ops) => {
        fc.pre(tail !== checkpoint)
        const magic: Magic = { tail, checkpoint }
        // The writer's layout with these magics.
        const parts: Uint8Array[] = []
        for (const op of ops) parts.push(op.kind === 'write' ? op.bytes : le64(checkpoint))
        const data = concat(parts)
        const image = new Uint8Array(Math.ceil((data.length + 8) / PAGE) * PAGE)
        image.set(data)
        if (ops.length > 0) image.set(le64(tail), data.length)
        const result = assertMatchesOracle(image.length, image, magic)
        assert.equal(result.tail, ops.length === 0 ? 0 : data.length)

        const disabled = assertMatchesOracle(image.length, image, { tail: 0n, checkpoint })
        let last = image.length - 1
        while (last >= 0 && image[last] === 0) last--
        assert.equal(disabled.tail, last + 1)
      }),
      { numRuns: 200 },
    )
  })

  it('matches its documented rule on arbitrary bytes and magic numbers', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
    const magicArb = fc.oneof(
      fc.constant(DEFAULT_MAGIC),
      fc.record({ tail: u64, checkpoint: u64 }),
    )
    fc.assert(
      fc.property(hostileBytes, fc.nat(40), magicArb, garbageArb, (bytes, zeros, magic, garbage) => {
        const image = concat([bytes, new Uint8Array(zeros)])
        assertMatchesOracle(image.length, withGarbage(image, garbage), magic)
      }),
      { numRuns: 500 },
    )
  })

  it('never puts the tail past the last complete write when the last one is torn', () => {
    const scenario = opsArb.chain((ops) =>
      opArb.chain((last) => {
        const length = last.kind === 'write' ? last.bytes.length : 8
        return fc.tuple(fc.constant(ops), fc.constant(last), tearArb(length), fc.integer({ min: 0, max: 1 }))
      }),
    )
    let strongChecks = 0
    fc.assert(
      fc.property(scenario, ([ops, last, tear, extraPages]) => {
        const { image: before, stream } = liveImage(ops, PAGE)
        const begin = stream.data.length
        const lastData = last.kind === 'write' ? last.bytes : CHECKPOINT_BYTES
        // The writer grows the file before it copies, so the image holds the operation and its
        // MagicTail whatever their length, and sometimes a spare page past them.
        const fits = roundUp(begin + lastData.length + 8, PAGE)
        const image = new Uint8Array(Math.max(before.length, fits) + extraPages * PAGE)
        image.set(before)
        lastData.forEach((byte, i) => {
          if (tear.landed[i] === true) image[begin + i] = byte
        })
        const after = begin + lastData.length
        if (tear.tailWords >= 1) image.set(TAIL_BYTES.subarray(0, 4), after)
        if (tear.tailWords === 2) image.set(TAIL_BYTES.subarray(4), after + 4)
        const complete = tear.tailWords === 2

        const result = assertMatchesOracle(image.length, image)

        // Every magic number the image holds where the writer did not put one is an accident
        // of the data; without such accidents, recovery must land on a real boundary.
        const realCheckpoints = new Set(streamOf([...ops, last]).checkpoints)
        const realTails = new Set(ops.length > 0 ? [begin] : [])
        if (complete) realTails.add(after)
        const accidental =
          occurrences(image, TAIL_BYTES).some((at) => !realTails.has(at)) ||
          occurrences(image, CHECKPOINT_BYTES).some((at) => !realCheckpoints.has(at))
        if (accidental) return
        strongChecks++
        if (complete) {
          assert.deepEqual([result.outcome, result.tail], [RecoveryKind.Tail, after])
          return
        }
        // The in-flight operation is either lost or, when all of its bytes landed and recovery
        // trusts a checkpoint that ends it (a checkpoint() whose MagicTail did not land), kept whole.
        if (result.tail > begin && tear.landed.every(Boolean)) {
          assert.equal(last.kind, 'checkpoint', 'only a checkpoint can vouch for a write whose MagicTail is missing')
          assert.deepEqual([result.outcome, result.tail, result.checkpoint], [RecoveryKind.Corrupted, after, begin])
          return
        }
        assert.ok(result.tail <= begin, `tail ${result.tail} is past the last complete write's end ${begin}`)
        const boundaries = new Set([0, begin, ...stream.checkpoints, ...stream.checkpoints.map((c) => c + 8)])
        assert.ok(boundaries.has(result.tail), `tail ${result.tail} is not a write or checkpoint boundary`)
        if (result.outcome === RecoveryKind.Tail) assert.equal(result.tail, begin)
      }),
      { numRuns: 3000 },
    )
    assert.ok(strongChecks > 300, `only ${strongChecks} torn images were free of accidental magic numbers`)
  })

  it('treats bad sizes as Corrupted with an error instead of throwing', () => {
    const bytes = new Uint8Array(16)
    for (const size of [-1, Number.NaN, 1.5, 17, Number.POSITIVE_INFINITY]) {
      const result = recover(size, bytes)
      assert.equal(result.outcome, RecoveryKind.Corrupted, String(size))
      assert.ok(result.error instanceof Error)
      assert.equal(result.tail, 0)
    }
    assert.equal(recover(0, new Uint8Array(0)).outcome, RecoveryKind.Empty)
  })

  it('finds a torn file short of 8 bytes Corrupted with tail 0', () => {
    for (let n = 1; n < 8; n++) {
      const image = new Uint8Array(PAGE)
      image.set(TAIL_BYTES.subarray(8 - n), 0)
      const result = assertMatchesOracle(image.length, image)
      assert.deepEqual([result.outcome, result.tail], [RecoveryKind.Corrupted, 0])
    }
  })
})

describe('lastNonZero', () => {
  function naive(bytes: Uint8Array, end: number): number {
    for (let i = end - 1; i >= 0; i--) if (bytes[i] !== 0) return i
    return -1
  }

  it('finds the last non-zero byte at every alignment, length, end and position', () => {
    const backing = new Uint8Array(8 + 48 + 8)
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 48; length++) {
        // Non-zero bytes right outside the view must never be reported.
        backing.fill(0xff)
        const view = backing.subarray(8 + offset, 8 + offset + length)
        view.fill(0)
        for (let position = -1; position < length; position++) {
          if (position >= 0) view[position] = position % 2 === 0 ? 1 : 0x80
          for (let end = 0; end <= length; end++) {
            // Bytes in [end, length) set non-zero too: they lie past `end`.
            const saved = view.slice(end)
            view.fill(0x7f, end)
            assert.equal(lastNonZero(view, end), position < end ? position : -1, `offset ${offset} length ${length} position ${position} end ${end}`)
            view.set(saved, end)
          }
          if (position >= 0) view[position] = 0
        }
      }
    }
  })

  it('agrees with a naive scan on random sparse buffers', () => {
    fc.assert(
      fc.property(
        fc.nat(15),
        fc.nat(300),
        fc.array(fc.tuple(fc.nat(299), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        fc.nat(300),
        (offset, length, marks, endSeed) => {
          const backing = new Uint8Array(offset + length + 16).fill(0xee)
          const view = backing.subarray(offset, offset + length)
          view.fill(0)
          for (const [at, value] of marks) if (at < length) view[at] = value
          const end = length === 0 ? 0 : endSeed % (length + 1)
          assert.equal(lastNonZero(view, end), naive(view, end))
        },
      ),
      { numRuns: 1000 },
    )
  })
})
