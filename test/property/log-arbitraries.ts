/** Shared fast-check arbitraries and entry contents for the record log property tests. */
import fc from 'fast-check'
import { BLOCK_SIZE, HEADER_SIZE } from '../../src/log/format.ts'

const EDGE_SIZES = [
  0,
  1,
  HEADER_SIZE,
  HEADER_SIZE + 1,
  BLOCK_SIZE - 2 * HEADER_SIZE,
  BLOCK_SIZE - HEADER_SIZE - 16,
  BLOCK_SIZE - HEADER_SIZE - 15,
  BLOCK_SIZE - HEADER_SIZE - 1,
  BLOCK_SIZE - HEADER_SIZE,
  BLOCK_SIZE - HEADER_SIZE + 1,
  BLOCK_SIZE,
  2 * (BLOCK_SIZE - HEADER_SIZE),
  2 * (BLOCK_SIZE - HEADER_SIZE) + 1,
  3 * (BLOCK_SIZE - HEADER_SIZE) - 2,
]

export const entrySize = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_SIZES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 * BLOCK_SIZE }) },
)

export const startOffset = fc.oneof(
  fc.constantFrom(0, BLOCK_SIZE, 2 * BLOCK_SIZE),
  fc.integer({ min: 1, max: 16 }),
  fc.integer({ min: BLOCK_SIZE - 20, max: BLOCK_SIZE }),
  fc.integer({ min: 0, max: 3 * BLOCK_SIZE }),
)

/** Entry `index` of size `size`: its bytes say which entry it is, so a mix-up cannot go unseen. */
export function makeEntry(index: number, size: number): Uint8Array {
  const entry = new Uint8Array(size)
  let x = (index + 1) * 2654435761
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    entry[i] = x & 0xff
  }
  if (size >= 4) new DataView(entry.buffer).setUint32(0, index, true)
  return entry
}

