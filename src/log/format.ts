/**
 * The record format of grailbio/base logio, byte for byte (see docs/FORMAT.md, "The record log").
 *
 *   log    := block*
 *   block  := record* padding?          // 32 KiB, aligned to absolute file offsets
 *   record := checksum u32le  type u8  length u16le  offset u64le  data[length]
 *   padding:= 0x00{1,15}                // fewer bytes than a header left in the block
 *
 * An entry is one FULL record, or FIRST MIDDLE* LAST. Records never cross a block boundary.
 * `offset` is 0 for FULL and FIRST; for MIDDLE and LAST it is the record's file position minus
 * the position of the entry's FIRST record.
 *
 * Functions here are pure: they encode into and decode from Uint8Arrays and never do I/O.
 * @module
 */

import { copyBytes } from '../io/copy-bytes.ts'
import { checksumRange, recordChecksum, writeU64 } from './checksum.ts'

export { writeU64 }

/** Size of a block: records never cross a multiple of this absolute file offset. */
export const BLOCK_SIZE = 32768

/** Size of a record header: checksum (4), type (1), length (2), offset (8). */
export const HEADER_SIZE = 15

/** The most data bytes one record can hold (a record filling a whole block). */
export const RECORD_DATA_MAX = BLOCK_SIZE - HEADER_SIZE

/** Byte positions of the header fields inside a record. */
export const HeaderField = {
  Checksum: 0,
  Type: 4,
  Length: 5,
  Offset: 7,
} as const

/**
 * Record types. Values other than these four may appear in a file (logio ignores valid records
 * of unknown type whose offset is non-zero).
 */
export const RecordType = {
  /** A whole entry in one record. */
  Full: 1,
  /** The first record of an entry that spans blocks; runs to the end of its block. */
  First: 2,
  /** A continuation record filling a whole block. */
  Middle: 3,
  /** The final record of an entry that spans blocks. */
  Last: 4,
} as const

/** A record type byte (one of {@link RecordType}, or any other byte read from a file). */
export type RecordType = (typeof RecordType)[keyof typeof RecordType]

/** A decoded record header. */
export interface RecordHeader {
  /** The stored checksum (u32). */
  checksum: number
  /** The type byte. */
  type: number
  /** Number of data bytes after the header. */
  length: number
  /** Distance back to the entry's FIRST record (0 for FULL and FIRST). */
  offset: number
}

/**
 * Where an absolute file offset falls inside its block: `offset mod BLOCK_SIZE`.
 * @param offset - An absolute, non-negative file offset.
 */
export function blockOffset(offset: number): number {
  return offset % BLOCK_SIZE
}

/**
 * The reference's `Aligned(offset)`: the offset rounded up to the next block boundary when
 * fewer than a header's bytes remain in its block, otherwise the offset itself. As in the
 * reference it ignores the writer's skip of offsets 1..14 past a boundary (docs/FORMAT.md).
 * @param offset - An absolute, non-negative file offset.
 * @returns The aligned offset.
 */
export function aligned(offset: number): number {
  const rest = BLOCK_SIZE - blockOffset(offset)
  return rest <= HEADER_SIZE ? offset + rest : offset
}

/**
 * How many zero bytes the writer puts at `position` before an entry's first record: up to the
 * next block boundary when fewer than a header's bytes remain in the block, or when `position`
 * lies 1..14 bytes past a boundary (the reference treats that as a corrupted position); else 0.
 * @param position - The absolute offset the writer is at.
 */
export function paddingBefore(position: number): number {
  const inBlock = blockOffset(position)
  if (inBlock === 0) return 0
  if (inBlock < HEADER_SIZE) return BLOCK_SIZE - inBlock
  const rest = BLOCK_SIZE - inBlock
  return rest <= HEADER_SIZE ? rest : 0
}

/**
 * Data bytes the first record of an entry can hold when it starts at `firstPosition` (always
 * at least 1: the writer never starts a record with fewer than 16 bytes left in its block).
 * @param firstPosition - Absolute offset of the entry's first record.
 */
export function firstRecordCapacity(firstPosition: number): number {
  return BLOCK_SIZE - blockOffset(firstPosition) - HEADER_SIZE
}

/**
 * Number of records an entry of `entrySize` bytes (at least 1) takes when its first record
 * starts at `firstPosition`.
 * @param firstPosition - Absolute offset of the entry's first record.
 * @param entrySize - Size of the entry in bytes.
 */
export function recordCount(firstPosition: number, entrySize: number): number {
  const capacity = firstRecordCapacity(firstPosition)
  if (entrySize <= capacity) return 1
  return 1 + Math.ceil((entrySize - capacity) / RECORD_DATA_MAX)
}

/**
 * Number of bytes an entry of `entrySize` bytes occupies when appended at `position`, padding
 * included: exactly what {@link encodeEntry} writes.
 * @param position - The absolute offset the writer is at.
 * @param entrySize - Size of the entry in bytes.
 */
export function encodedSize(position: number, entrySize: number): number {
  const padding = paddingBefore(position)
  if (entrySize === 0) return padding
  const firstPosition = position + padding
  const capacity = firstRecordCapacity(firstPosition)
  if (entrySize <= capacity) return padding + HEADER_SIZE + entrySize
  const rest = entrySize - capacity
  return padding + BLOCK_SIZE - blockOffset(firstPosition) + Math.ceil(rest / RECORD_DATA_MAX) * HEADER_SIZE + rest
}

/**
 * Writes a record header into `target` at `at`, with the checksum `sum` computed beforehand
 * (see {@link recordChecksum}).
 * @param target - The buffer holding the record.
 * @param at - Index of the record's first byte in `target`.
 * @param sum - The record's checksum.
 * @param type - The record type byte.
 * @param length - Number of data bytes.
 * @param offset - The offset field (a safe integer below 2^53).
 */
function writeHeader(target: Uint8Array, at: number, sum: number, type: number, length: number, offset: number): void {
  target[at] = sum & 0xff
  target[at + 1] = (sum >>> 8) & 0xff
  target[at + 2] = (sum >>> 16) & 0xff
  target[at + 3] = sum >>> 24
  target[at + 4] = type
  target[at + 5] = length & 0xff
  target[at + 6] = length >>> 8
  writeU64(target, at + 7, offset)
}

/**
 * Encodes record number `recordIndex` of `entry` (whose first record starts at the absolute
 * offset `firstPosition`) into `target` at `at`. Records are independent of one another, so an
 * entry can be encoded in pieces of whole records.
 * @param target - The buffer to fill.
 * @param at - Index in `target` of the record's first byte.
 * @param firstPosition - Absolute offset of the entry's first record.
 * @param entry - The whole entry (at least 1 byte).
 * @param recordIndex - Which record, from 0 to `recordCount(firstPosition, entry.length) - 1`.
 * @returns The size of the record in bytes (header included).
 */
export function encodeRecord(
  target: Uint8Array,
  at: number,
  firstPosition: number,
  entry: Uint8Array,
  recordIndex: number,
): number {
  const capacity = firstRecordCapacity(firstPosition)
  let dataStart = 0
  let dataEnd: number
  let offset = 0
  let type: number
  if (recordIndex === 0) {
    dataEnd = entry.length <= capacity ? entry.length : capacity
    type = dataEnd === entry.length ? RecordType.Full : RecordType.First
  } else {
    dataStart = capacity + (recordIndex - 1) * RECORD_DATA_MAX
    dataEnd = Math.min(entry.length, dataStart + RECORD_DATA_MAX)
    type = dataEnd === entry.length ? RecordType.Last : RecordType.Middle
    // Every continuation record starts at a block boundary.
    offset = BLOCK_SIZE - blockOffset(firstPosition) + (recordIndex - 1) * BLOCK_SIZE
  }
  const length = dataEnd - dataStart
  // The checksum is taken from the fields and the entry, not from `target`, which may be a
  // file's mapping: the hash reads the same bytes either way, and this copies no view.
  writeHeader(target, at, recordChecksum(type, length, offset, entry, dataStart), type, length, offset)
  copyBytes(target, length === entry.length ? entry : entry.subarray(dataStart, dataEnd), at + HEADER_SIZE)
  return HEADER_SIZE + length
}

/**
 * Encodes `entry`, appended by a writer at absolute offset `position`, into `target` from index
 * `at`: padding zeros, then the records. `target` must have `encodedSize(position,
 * entry.length)` bytes from `at` on.
 * @param target - The buffer to fill.
 * @param at - Index in `target` where the byte for `position` goes.
 * @param position - The absolute file offset of `target[at]`.
 * @param entry - The entry's bytes.
 * @returns The number of bytes written (padding included).
 */
export function encodeEntry(target: Uint8Array, at: number, position: number, entry: Uint8Array): number {
  const padding = paddingBefore(position)
  if (padding > 0) target.fill(0, at, at + padding)
  if (entry.length === 0) return padding
  const firstPosition = position + padding
  const count = recordCount(firstPosition, entry.length)
  let cursor = at + padding
  for (let recordIndex = 0; recordIndex < count; recordIndex++) {
    cursor += encodeRecord(target, cursor, firstPosition, entry, recordIndex)
  }
  return cursor - at
}

/**
 * Reads the header fields of the record at `at` (without checking anything).
 * @param source - The bytes holding the header; `at + HEADER_SIZE` must not exceed its length.
 * @param at - Index of the record's first byte.
 */
export function readHeader(source: Uint8Array, at: number): RecordHeader {
  return {
    checksum: readU32(source, at),
    type: source[at + 4] ?? 0,
    length: ((source[at + 5] ?? 0) | ((source[at + 6] ?? 0) << 8)) >>> 0,
    offset: readU64(source, at + 7),
  }
}

/** Little-endian u32 at `at`. */
export function readU32(source: Uint8Array, at: number): number {
  return (
    ((source[at] ?? 0) | ((source[at + 1] ?? 0) << 8) | ((source[at + 2] ?? 0) << 16) | ((source[at + 3] ?? 0) << 24)) >>> 0
  )
}

/**
 * Little-endian u64 at `at`, as a number. Values of 2^53 and above cannot be file offsets; they
 * come back as `Infinity` so that every comparison with a real offset fails safely.
 */
export function readU64(source: Uint8Array, at: number): number {
  const low = readU32(source, at)
  const high = readU32(source, at + 4)
  if (high >= 0x200000) return Infinity
  return high * 4294967296 + low
}

/** A record header decoded by {@link parseRecord}; one object is reused across calls. */
export interface ParsedRecord {
  /** The type byte. */
  type: number
  /** Number of data bytes. */
  length: number
  /** The offset field (`Infinity` when it is 2^53 or more). */
  offset: number
}

/**
 * Parses the record at `cursor` in `block` (the bytes of one block, or of its start when the
 * block is incomplete) exactly as the reference does, and says whether it is valid:
 * at least 16 bytes left, the data fits in the block, the checksum matches, and the offset is 0
 * for FULL and FIRST, non-zero for every other type (unknown types included).
 * @param block - The block's bytes.
 * @param cursor - Index of the record in `block`.
 * @param out - Receives the header fields when the header could be read.
 * @returns True when the record is valid; its size is then `HEADER_SIZE + out.length`.
 */
export function parseRecord(block: Uint8Array, cursor: number, out: ParsedRecord): boolean {
  const size = block.length
  if (cursor >= size - HEADER_SIZE) return false
  const length = (block[cursor + 5] as number) | ((block[cursor + 6] as number) << 8)
  if (length > size - cursor - HEADER_SIZE) return false
  const dataEnd = cursor + HEADER_SIZE + length
  if (checksumRange(block, cursor + HeaderField.Type, dataEnd) !== readU32(block, cursor)) return false
  const type = block[cursor + 4] as number
  const offset = readU64(block, cursor + HeaderField.Offset)
  out.type = type
  out.length = length
  out.offset = offset
  if (type === RecordType.Full || type === RecordType.First) return offset === 0
  return offset !== 0
}
