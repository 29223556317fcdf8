import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import xxhashWasm from 'xxhash-wasm'

import { compileXxh64 } from '../../scripts/build-wasm.mjs'
import { checksumRange, recordChecksum } from '../../src/log/checksum.ts'
import { XXH64_WASM } from '../../src/io/xxh64-wasm.ts'
import { XXH64_STAGE_SIZE, xxh64Offer } from '../../src/io/xxh64.ts'

// The reference: a widely used XXH64, all 64 bits; logio keeps the low 32.
const hasher = await xxhashWasm()
const low32 = (bytes: Uint8Array): number => Number(BigInt.asUintN(32, hasher.h64Raw(bytes)))

test('the committed WebAssembly is what xxh64.wat compiles to', async () => {
  const compiled = await compileXxh64()
  assert.equal(XXH64_WASM, compiled.toString('base64'), 'run node scripts/build-wasm.mjs after editing src/io/xxh64.wat')
  assert.ok(readFileSync(join(import.meta.dirname, '..', '..', 'src', 'io', 'xxh64.wat'), 'utf8').includes('(module'))
})

test('checksumRange equals the reference XXH64 for every length up to 300 and across the 32-byte stripes', () => {
  for (let length = 0; length <= 300; length++) {
    const bytes = Uint8Array.from({ length }, (_, index) => (index * 2654435761 + length) >>> 11)
    assert.equal(checksumRange(bytes, 0, length), low32(bytes), `length ${length}`)
  }
})

test('checksumRange of any range of any bytes, up to 200 KiB (the module grows its memory), equals the reference', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 60000, maxLength: 200000 })),
      fc.nat(),
      fc.nat(),
      (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1)
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
        assert.equal(checksumRange(bytes, start, end), low32(bytes.subarray(start, end)))
      },
    ),
    { numRuns: 150 },
  )
})

test('recordChecksum equals the checksum of the record bytes it stands for', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 3000 }),
      fc.nat(),
      fc.nat(),
      fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)),
      (type, entry, a, b, offset) => {
        const dataStart = entry.length === 0 ? 0 : a % (entry.length + 1)
        const length = Math.min(65535, entry.length === 0 ? 0 : b % (entry.length - dataStart + 1))
        const record = new Uint8Array(11 + length)
        const view = new DataView(record.buffer)
        record[0] = type
        view.setUint16(1, length, true)
        view.setBigUint64(3, BigInt(offset), true)
        record.set(entry.subarray(dataStart, dataStart + length), 11)
        assert.equal(recordChecksum(type, length, offset, entry, dataStart), low32(record))
      },
    ),
    { numRuns: 300 },
  )
})

test('an offered block is staged at its first short range and hashed in place, until another block is staged', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: XXH64_STAGE_SIZE }), fc.nat(), fc.nat(), (block, a, b) => {
      const start = a % (block.length + 1)
      const end = start + (b % (block.length - start + 1))
      const short = end - start <= 512
      const expected = low32(block.subarray(start, end))
      xxh64Offer(block)
      assert.equal(checksumRange(block, start, end), expected)
      // Other inputs go through the module meanwhile: the staged block stays.
      assert.equal(checksumRange(block.slice(), start, end), expected)
      assert.equal(checksumRange(block, start, end), expected)
      // A short range is hashed on the staged copy: bytes changed after it was made (which
      // its callers never do) still hash as they were, until another block is staged. A long
      // range is copied on its own each time.
      block.fill(0)
      if (end > start) block[start] = (expected & 0xff) ^ 0xff
      const changed = low32(block.subarray(start, end))
      assert.equal(checksumRange(block, start, end), short ? expected : changed)
      const other = new Uint8Array(8)
      xxh64Offer(other)
      assert.equal(checksumRange(other, 0, 8), low32(other))
      assert.equal(checksumRange(block, start, end), changed)
    }),
    { numRuns: 200 },
  )
  // Blocks of records as readers offer them: 100 B records staged, 4 KiB ones copied.
  const block = new Uint8Array(XXH64_STAGE_SIZE).map((_, index) => (index * 2654435761) >>> 24)
  for (const [start, end, staged] of [[16, 127, true], [16, 4096 + 16, false]] as const) {
    const expected = low32(block.subarray(start, end))
    xxh64Offer(block)
    assert.equal(checksumRange(block, start, end), expected)
    block[start] = block[start]! ^ 0xff
    assert.equal(checksumRange(block, start, end) === expected, staged)
    block[start] = block[start] ^ 0xff
  }
})
