/**
 * A record log's torn tail: where the bytes a writer left half-written at its end begin, and
 * cutting them off. A log written by a writer that died mid-append ends with part of an entry;
 * everything before it reads whole. Damage anywhere else is not a torn tail, and neither is a
 * tail that still holds a complete entry, nor bytes a torn write cannot leave: cutting there
 * would lose entries, so it is refused. The one rule for every repair that cuts a log's tail:
 * the record log's (`aof recover`) and the state log's (its open).
 *
 * What a torn write looks like: the bytes a crash leaves when it interrupts the append of one
 * entry at a known offset. They are a prefix of that entry's encoding (padding zeros, then
 * records whose fields follow from the offset and whose complete records carry good
 * checksums), ending inside its last record — or zeros only, or a record whose end a power
 * loss left unwritten (zeros from a sector boundary to the end of the file).
 * @module
 */
import { closeSync } from 'node:fs'
import { truncateDurably } from '../io/durable.ts'
import { openLocked } from '../io/lock.ts'
import { checksumRange } from './checksum.ts'
import { BLOCK_SIZE, HEADER_SIZE, HeaderField, RecordType, blockOffset, paddingBefore, readU32, writeU64 } from './format.ts'
import { findEntry, scanLog } from './scan.ts'
import type { DamagedRange, LogScan } from './scan.ts'
import type { LogSource } from './sources.ts'

/** The bytes to cut: `[offset, end)`, and why. */
export interface TornTail {
  /** The end of the last entry that reads whole: the log is cut back to here. */
  offset: number
  /** The end of the log. */
  end: number
  /** What the reader found there. */
  reason: string
}

/**
 * What a log's end looks like: whole, a torn tail to cut, or damage that is not a torn tail
 * (damage before the end, complete entries after the damage, or bytes a torn write cannot
 * leave: `notTorn` says which), which no cut may repair.
 */
export type LogTail =
  | { kind: 'whole' }
  | { kind: 'torn'; tail: TornTail }
  | { kind: 'damaged'; range: DamagedRange; entryAfter: boolean; notTorn?: string }

/**
 * Finds a record log's torn tail.
 * @param source - The log's bytes, up to its end.
 * @param scan - The result of `scanLog(source)`, when the caller has it already.
 * @returns `whole`; `torn` with the range to cut; or `damaged` with the first range that forbids
 *   a cut (`entryAfter`: a complete entry lies inside the last damaged range, after the damage;
 *   `notTorn`: why the last range is not what a torn write leaves).
 * @throws {@link AofkitError} system codes when the source cannot be read.
 */
export function findTornTail(source: LogSource, scan: LogScan = scanLog(source)): LogTail {
  const last = scan.damaged.at(-1)
  if (last === undefined) return { kind: 'whole' }
  const early = scan.damaged.find((range) => range.end < source.size)
  if (early !== undefined) return { kind: 'damaged', range: early, entryAfter: false }
  if (findEntry(source, last.begin, last.end) !== null) return { kind: 'damaged', range: last, entryAfter: true }
  const notTorn = notATornWrite(source, last.begin)
  if (notTorn !== null) return { kind: 'damaged', range: last, entryAfter: false, notTorn }
  return { kind: 'torn', tail: { offset: last.begin, end: source.size, reason: last.reason } }
}

/**
 * Why the bytes of `source` from `begin` to its end are not what a torn write leaves, or `null`
 * when they are (see the module notes).
 * @param source - The log.
 * @param begin - Where the interrupted append started: the end of the last complete entry.
 */
export function notATornWrite(source: LogSource, begin: number): string | null {
  const size = source.size
  if (begin >= size) return null
  const bytes = source.read(begin, size - begin).slice()
  if (bytes.every((byte) => byte === 0)) return null
  const padding = Math.min(paddingBefore(begin), bytes.length)
  for (let k = 0; k < padding; k++) {
    if (bytes[k] !== 0) return `a non-zero byte at offset ${begin + k}, in the padding before a block boundary`
  }
  const first = begin + padding
  const expected = new Uint8Array(8)
  for (let position = first, index = 0; position < size; index++) {
    const at = position - begin
    const present = Math.min(size - position, HEADER_SIZE)
    const capacity = BLOCK_SIZE - blockOffset(position) - HEADER_SIZE
    const where = `at offset ${position}`
    if (present > HeaderField.Type) {
      const type = bytes[at + HeaderField.Type] as number
      const allowed: readonly number[] = index === 0 ? [RecordType.Full, RecordType.First] : [RecordType.Middle, RecordType.Last]
      if (!allowed.includes(type)) return `a record of type ${type} ${where}, where an entry's ${index === 0 ? 'first' : 'next'} record would be`
    }
    let length = -1
    if (present > HeaderField.Length + 1) {
      length = (bytes[at + HeaderField.Length] as number) | ((bytes[at + HeaderField.Length + 1] as number) << 8)
      const type = bytes[at + HeaderField.Type]
      const spans = type === RecordType.First || type === RecordType.Middle
      if (spans ? length !== capacity : length === 0 || length > capacity) return `a record ${where} whose length ${length} does not fit its block`
    }
    writeU64(expected, 0, index === 0 ? 0 : position - first)
    for (let k = HeaderField.Offset; k < present; k++) {
      if (bytes[at + k] !== expected[k - HeaderField.Offset]) return `a record ${where} whose offset field does not match its position`
    }
    if (length < 0 || size - position < HEADER_SIZE + length) return null
    // A complete record: a torn write leaves it as it was written.
    if (checksumRange(bytes, at + HeaderField.Type, at + HEADER_SIZE + length) !== readU32(bytes, at)) {
      // A power loss can leave the file's last sectors unwritten: zeros from a sector boundary
      // to the end. A flipped bit cannot.
      if (zerosFromSectorToEnd(bytes, begin, at + HEADER_SIZE)) return null
      return `a complete record ${where} that fails its checksum`
    }
    const type = bytes[at + HeaderField.Type]
    if (type === RecordType.Full || type === RecordType.Last) return `a complete entry ending ${where}`
    position += HEADER_SIZE + length
  }
  return null
}

/** The size of a disk sector: the unit a power loss leaves written or not. */
const SECTOR_SIZE = 512

/**
 * True when the bytes from some sector boundary at or after index `from` to the end are zeros,
 * and at least one sector of them lies inside the record being checked.
 */
function zerosFromSectorToEnd(bytes: Uint8Array, begin: number, from: number): boolean {
  let last = bytes.length - 1
  while (last >= 0 && bytes[last] === 0) last--
  const zerosFrom = last + 1
  const boundary = Math.ceil((begin + Math.max(from, zerosFrom)) / SECTOR_SIZE) * SECTOR_SIZE - begin
  return zerosFrom <= boundary && boundary < bytes.length
}

/**
 * The end of the last entry in `source` that reads whole, or null when none does: where a file
 * holding this log can be cut without losing a complete entry (damage before it stays, for
 * `verify` to report).
 */
export function lastWholeEntryEnd(source: LogSource): number | null {
  const scan = scanLog(source)
  return scan.entries === 0 ? null : scan.goodEnd
}

/**
 * Cuts the plain file at `path` holding a record log back to `tail.offset`, under the
 * single-writer lock, and makes the cut durable.
 * @returns The number of bytes cut.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when a writer holds the file; ERR_AOF_READ_ONLY,
 *   ERR_AOF_NOT_FOUND and other system codes.
 */
export function cutTornTail(path: string, tail: TornTail): number {
  const fd = openLocked(path, 'record log')
  try {
    truncateDurably(fd, tail.offset, path)
  } finally {
    closeSync(fd)
  }
  return tail.end - tail.offset
}
