/**
 * The Go `aof` package's magic numbers. After every write the 8-byte MagicTail follows the data; a
 * MagicCheckpoint marks a checkpoint in the stream, or the end of a finished file.
 * @module
 */

/** Written after the data on every write. Little-endian bytes `[170 36 117 84 99 156 155 65]`. */
export const MAGIC_TAIL = 4727544184288126122n
/** Marks a checkpoint, or the end of a finished file. Bytes `[44 219 31 242 165 172 120 248]`. */
export const MAGIC_CHECKPOINT = 17904250147343162156n
/** Size of a magic number on disk, in bytes. */
export const MAGIC_SIZE = 8

/** The pair of magic numbers a file uses (the Go `aof` package's `Magic`). */
export interface Magic {
  /** Marks the end of the data after each write. */
  readonly tail: bigint
  /** Marks a checkpoint, or the end of a finished file. */
  readonly checkpoint: bigint
}

/** The Go `aof` package's magic numbers. */
export const DEFAULT_MAGIC: Magic = Object.freeze({ tail: MAGIC_TAIL, checkpoint: MAGIC_CHECKPOINT })

/** The 8 little-endian bytes of a magic number. */
export function magicBytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(MAGIC_SIZE)
  new DataView(bytes.buffer).setBigUint64(0, value, true)
  return bytes
}

/** The low and high 32-bit halves of a magic number, for two fast unaligned stores. */
export function magicWords(value: bigint): readonly [low: number, high: number] {
  return [Number(value & 0xffffffffn), Number(value >> 32n)]
}
