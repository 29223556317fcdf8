// recoverFromEnd reads a file's end in chunks instead of holding the file in memory (a reader
// never maps its file); it must find exactly what recoverWithMagic finds on the whole file,
// wherever the chunk boundaries fall.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import { DEFAULT_MAGIC, recoverWithMagic } from '../../src/index.ts'
import type { Magic } from '../../src/index.ts'
import { recoverFromEnd } from '../../src/aof/recovery.ts'
import { CHECKPOINT_BYTES, TAIL_BYTES, concat } from '../helpers/aof-model.ts'

const piece = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 30 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 90 }).map((n) => new Uint8Array(n)) },
  { weight: 1, arbitrary: fc.constantFrom(TAIL_BYTES, CHECKPOINT_BYTES) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(TAIL_BYTES, CHECKPOINT_BYTES), fc.integer({ min: 1, max: 7 })).map(([m, cut]) => m.subarray(cut)) },
)
const imageArb = fc.array(piece, { maxLength: 12 }).map((parts) => concat(parts))

function readerOf(image: Uint8Array): (target: Uint8Array, position: number) => void {
  return (target, position) => {
    assert.ok(position >= 0 && position + target.length <= image.length, `read [${position}, +${target.length}) outside the file`)
    target.set(image.subarray(position, position + target.length))
  }
}

describe('recoverFromEnd', () => {
  it('finds what recoverWithMagic finds on the whole file, for any chunk size', () => {
    const u64 = fc.bigInt({ min: 1n << 56n, max: (1n << 64n) - 1n })
    const magicArb = fc.oneof({ weight: 4, arbitrary: fc.constant(DEFAULT_MAGIC) }, { weight: 1, arbitrary: fc.record({ tail: u64, checkpoint: u64 }) })
    fc.assert(
      fc.property(imageArb, fc.integer({ min: 16, max: 80 }), magicArb, (image, chunk, magic: Magic) => {
        const whole = recoverWithMagic(image.length, image, magic)
        const chunked = recoverFromEnd(image.length, readerOf(image), magic, { chunk })
        assert.deepEqual(
          { outcome: chunked.outcome, tail: chunked.tail, checkpoint: chunked.checkpoint, fileSize: chunked.fileSize },
          { outcome: whole.outcome, tail: whole.tail, checkpoint: whole.checkpoint, fileSize: whole.fileSize },
        )
      }),
      { numRuns: 1500 },
    )
  })

  it('reads an empty file as Empty without reading anything past it', () => {
    const result = recoverFromEnd(0, () => assert.fail('read of an empty file'))
    assert.deepEqual([result.outcome, result.tail], [0, 0])
  })
})
