/**
 * The logio record checksum: the low 32 bits of XXH64 (seed 0) over a record's type, length,
 * offset and data. The reference computes `uint32(h<<32) ^ uint32(h)`, which is just the low
 * half of `h` (docs/FORMAT.md).
 *
 * XXH64 comes from `xxhash-wasm` (WebAssembly). On 100-byte inputs it measured about 5.8 times
 * faster than our best pure TypeScript XXH64 on 32-bit halves, and ahead of the native packages
 * (docs/BENCHMARKS.md, "Record log"; bench/checksum.bench.ts). Its module is compiled once when
 * this file is first imported (a top-level await of a few milliseconds).
 * @module
 */
import xxhashWasm from 'xxhash-wasm'

const { h64Raw } = await xxhashWasm()

/**
 * The logio checksum of `bytes[start, end)`: the low 32 bits of XXH64 with seed 0.
 * @param bytes - The buffer holding the checksummed bytes (a record's type byte through its data).
 * @param start - Index of the first byte.
 * @param end - Index after the last byte.
 * @returns The checksum as an unsigned 32-bit number.
 */
export function checksumRange(bytes: Uint8Array, start: number, end: number): number {
  const input = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end)
  return Number(BigInt.asUintN(32, h64Raw(input)))
}

/**
 * XXH64 (seed 0) of `bytes`, all 64 bits. For tests and tools; the record log needs only
 * {@link checksumRange}.
 * @param bytes - The input.
 * @returns The hash as an unsigned 64-bit bigint.
 */
export function xxhash64(bytes: Uint8Array): bigint {
  return h64Raw(bytes)
}
