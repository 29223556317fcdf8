/**
 * The check a sync's record in the sidecar carries of the data it covers, so that recovery
 * after a power cut can tell whether that data reached the disk (docs/FORMAT.md, "After a
 * power cut"): XXH64 (seed 0, low 32 bits) of each {@link SYNC_CHECK_CHUNK} bytes of the range
 * in turn, the last chunk shorter, then XXH64 of those checksums (each 4 bytes,
 * little-endian). In chunks, so that a sync of a large range needs no copy of all of it.
 * @module
 */
import { xxh64Input, xxh64Low, xxh64Memory } from '../io/xxh64.ts'

/** Bytes of data each chunk checksum covers. */
export const SYNC_CHECK_CHUNK = 1024 * 1024

let sums = new Uint8Array(64)

/** The check of `data[from, to)`, an unsigned 32-bit number. */
export function syncCheck(data: Uint8Array, from: number, to: number): number {
  const chunks = Math.max(1, Math.ceil((to - from) / SYNC_CHECK_CHUNK))
  if (sums.length < chunks * 4) sums = new Uint8Array(chunks * 4)
  const view = new DataView(sums.buffer)
  for (let k = 0; k < chunks; k++) {
    const begin = from + k * SYNC_CHECK_CHUNK
    view.setUint32(k * 4, xxh64Low(data, begin, Math.min(to, begin + SYNC_CHECK_CHUNK)), true)
  }
  xxh64Memory(chunks * 4).set(sums.subarray(0, chunks * 4))
  return xxh64Input(chunks * 4)
}
