/**
 * The pure encoding functions: padding rules, sizes, and the worked example from the vectors'
 * README, checked against a straightforward model of the reference writer.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  BLOCK_SIZE,
  HEADER_SIZE,
  aligned,
  encodeEntry,
  encodedSize,
  paddingBefore,
  parseRecord,
  readHeader,
  recordCount,
} from '../../src/log/format.ts'

test('the FULL record for "hello" is the README example, byte for byte', () => {
  const target = new Uint8Array(20)
  assert.equal(encodeEntry(target, 0, 0, new TextEncoder().encode('hello')), 20)
  assert.equal(Buffer.from(target).toString('hex'), 'd978f41b010500000000000000000068656c6c6f')
  const header = readHeader(target, 0)
  assert.deepEqual(header, { checksum: 0x1bf478d9, type: 1, length: 5, offset: 0 })
  const parsed = { type: 0, length: 0, offset: 0 }
  assert.equal(parseRecord(target, 0, parsed), true)
  target[19] = (target[19] as number) ^ 1
  assert.equal(parseRecord(target, 0, parsed), false)
})

test('padding: skip 1..14 past a boundary, pad the last 15 bytes of a block, else nothing', () => {
  for (let r = 0; r < BLOCK_SIZE; r++) {
    const expected = r >= 1 && r <= 14 ? BLOCK_SIZE - r : BLOCK_SIZE - r <= 15 ? BLOCK_SIZE - r : 0
    assert.equal(paddingBefore(3 * BLOCK_SIZE + r), expected, `r=${r}`)
  }
  // Tell() ignores the skip case (README §1 Writer 4).
  assert.equal(aligned(10), 10)
  assert.equal(aligned(32753), 32768)
})

test('encodedSize and recordCount agree with what encodeEntry writes', () => {
  const positions = [0, 1, 14, 15, 16, 100, 32737, 32738, 32752, 32753, 32767, 32768, 65535]
  const sizes = [0, 1, 2, 15, 16, 32736, 32737, 32738, 32752, 32753, 32754, 65506, 65507, 65536, 100_000]
  for (const position of positions) {
    for (const size of sizes) {
      const expected = encodedSize(position, size)
      const target = new Uint8Array(expected + 64)
      assert.equal(encodeEntry(target, 0, position, new Uint8Array(size).fill(7)), expected, `${position}/${size}`)
      if (size > 0) {
        const first = position + paddingBefore(position)
        let count = 0
        let cursor = first - position
        while (cursor < expected) {
          cursor += HEADER_SIZE + readHeader(target, cursor).length
          // Continuation records start at block boundaries.
          count++
          if (cursor < expected) assert.equal((position + cursor) % BLOCK_SIZE, 0)
        }
        assert.equal(count, recordCount(first, size), `${position}/${size}`)
      }
    }
  }
})
