/**
 * The logio record checksum: the low 32 bits of XXH64 (seed 0) over a record's type, length,
 * offset and data. The reference computes `uint32(h<<32) ^ uint32(h)`, which is just the low
 * half of `h` (docs/FORMAT.md).
 *
 * XXH64 runs in a small WebAssembly module of our own (src/io/xxh64.ts), which returns the
 * low 32 bits as a plain number. The XXH64 packages we measured return a BigInt per call, and on a
 * 100-byte record that allocation, with the copy of the input into their memory, cost more than
 * the hash: the whole record checksum went from about 100 ns to about 45 ns
 * (docs/PERFORMANCE.md, "Our own XXH64"). Tests check every result against `xxhash-wasm`.
 * @module
 */
import { copyBytes } from '../io/copy-bytes.ts'
import { xxh64Input, xxh64Low, xxh64Memory } from '../io/xxh64.ts'

/**
 * The logio checksum of `bytes[start, end)`: the low 32 bits of XXH64 with seed 0.
 * @param bytes - The buffer holding the checksummed bytes (a record's type byte through its data).
 * @param start - Index of the first byte.
 * @param end - Index after the last byte.
 * @returns The checksum as an unsigned 32-bit number.
 */
export function checksumRange(bytes: Uint8Array, start: number, end: number): number {
  return xxh64Low(bytes, start, end)
}

/**
 * The checksum of the record a writer is about to write, computed from its fields and the
 * entry, without the record's bytes: what {@link checksumRange} returns over the record's type
 * byte through its data. Copies no view of the entry when the record holds all of it.
 * @param type - The record type.
 * @param length - Data bytes in the record.
 * @param offset - The record's offset field (a safe integer).
 * @param entry - The entry the data comes from.
 * @param dataStart - Index in `entry` of the record's first data byte.
 * @returns The checksum as an unsigned 32-bit number.
 */
export function recordChecksum(type: number, length: number, offset: number, entry: Uint8Array, dataStart: number): number {
  const target = xxh64Memory(11 + length)
  target[0] = type
  target[1] = length & 0xff
  target[2] = length >>> 8
  writeU64(target, 3, offset)
  copyBytes(target, dataStart === 0 && length === entry.length ? entry : entry.subarray(dataStart, dataStart + length), 11)
  return xxh64Input(11 + length)
}

/**
 * Writes a non-negative safe integer as 8 little-endian bytes, without BigInt. Here rather than
 * in format.ts (which re-exports it), so that the checksum can use it without an import cycle.
 */
export function writeU64(target: Uint8Array, at: number, value: number): void {
  const low = value >>> 0
  const high = (value - low) / 4294967296
  target[at] = low & 0xff
  target[at + 1] = (low >>> 8) & 0xff
  target[at + 2] = (low >>> 16) & 0xff
  target[at + 3] = low >>> 24
  target[at + 4] = high & 0xff
  target[at + 5] = (high >>> 8) & 0xff
  target[at + 6] = (high >>> 16) & 0xff
  target[at + 7] = high >>> 24
}
