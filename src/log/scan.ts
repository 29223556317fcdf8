/**
 * Checking a whole record log: every entry read with its checksums, every damaged range named,
 * and a salvage search for complete entries inside those ranges that the reader's resync skips
 * (the reference drops the rest of a block after a bad record). For tools (`aof verify`,
 * `aof recover`); applications read with {@link LogReader}.
 * @module
 */
import { AofkitError, ErrorCode } from '../errors.ts'
import { BLOCK_SIZE, HEADER_SIZE, RecordType, encodedSize, parseRecord } from './format.ts'
import type { ParsedRecord } from './format.ts'
import { LogReader } from './log-reader.ts'
import type { LogSource } from './sources.ts'

/** A range of a log that holds no readable entry where something was expected. */
export interface DamagedRange {
  /** Offset of the first damaged byte: the end of the last good entry before it (or the scan's start). */
  begin: number
  /** Offset just past the range: the start of the next good entry, or the end of the log. */
  end: number
  /** The error code the reader reported first (ERR_LOG_CORRUPTED or ERR_LOG_UNEXPECTED_EOF). */
  code: string
  /** The reader's first message for this range. */
  reason: string
}

/** What {@link scanLog} found. */
export interface LogScan {
  /** Where the scan started and ended (the source's size). */
  begin: number
  size: number
  /** Entries read whole, with good checksums. */
  entries: number
  /** Bytes of those entries' data. */
  entryBytes: number
  /** Offset of the first and last good entry, -1 when none. */
  firstEntry: number
  lastEntry: number
  /** The end of the last good entry (the scan's start when none): where a clean log would end. */
  goodEnd: number
  /** Every damaged range, in order. */
  damaged: DamagedRange[]
}

/** Options of {@link scanLog}. */
export interface ScanOptions {
  /** Offset to start at (an entry's start). Default: 0. */
  from?: number
  /** Called with each good entry; the data is valid only during the call. */
  onEntry?: (offset: number, data: Uint8Array) => void
  /** Called now and then with the offset reached, for a progress bar. */
  onProgress?: (offset: number) => void
}

/** True for the record log's own errors: damage, not a failed read. */
export function isLogError(error: unknown): error is AofkitError {
  return error instanceof AofkitError && (error.code === ErrorCode.LogCorrupted || error.code === ErrorCode.LogUnexpectedEof)
}

/**
 * The reader's next entry (null at the log's end), or the log error that stopped it: for
 * readers that act on damage instead of failing. Any other error is thrown.
 */
export function readEntry(reader: LogReader): Uint8Array | null | AofkitError {
  try {
    return reader.read()
  } catch (error) {
    if (isLogError(error)) return error
    throw error
  }
}

/**
 * Reads every entry of the log in `source` with a {@link LogReader} and reports each damaged
 * range: from the end of the last good entry before an error to the start of the next good
 * entry (or the end of the log). Consecutive errors with no good entry between them form one
 * range. Reads only; time is linear in the log's size.
 * @param source - The log's bytes.
 * @param options - Start offset and callbacks.
 * @returns The counts, the end of the good entries, and the damaged ranges.
 * @throws {@link AofkitError} system codes when the source cannot be read.
 */
export function scanLog(source: LogSource, options: ScanOptions = {}): LogScan {
  const begin = options.from ?? 0
  const reader = new LogReader(source, { offset: begin })
  const scan: LogScan = {
    begin,
    size: source.size,
    entries: 0,
    entryBytes: 0,
    firstEntry: -1,
    lastEntry: -1,
    goodEnd: begin,
    damaged: [],
  }
  let open: DamagedRange | null = null
  let lastReport = 0
  for (;;) {
    const entry = readEntry(reader)
    if (entry instanceof AofkitError) {
      open ??= { begin: scan.goodEnd, end: source.size, code: entry.code, reason: entry.message }
      if (entry.code === ErrorCode.LogUnexpectedEof) break
      continue
    }
    if (entry === null) break
    const offset = reader.entryOffset
    if (open !== null) {
      open.end = offset
      scan.damaged.push(open)
      open = null
    }
    scan.entries++
    scan.entryBytes += entry.length
    if (scan.firstEntry < 0) scan.firstEntry = offset
    scan.lastEntry = offset
    scan.goodEnd = offset + encodedSize(offset, entry.length)
    options.onEntry?.(offset, entry)
    if (options.onProgress !== undefined && scan.goodEnd - lastReport >= 1 << 20) {
      lastReport = scan.goodEnd
      options.onProgress(scan.goodEnd)
    }
  }
  if (open !== null) {
    open.end = source.size
    scan.damaged.push(open)
  } else if (scan.goodEnd < source.size && !allZero(source, scan.goodEnd, source.size)) {
    // The reader ignores up to 15 bytes at the end of a block (too few for a header), as the
    // reference does; after the last entry they can only be a torn record. Zeros are padding.
    scan.damaged.push({
      begin: scan.goodEnd,
      end: source.size,
      code: ErrorCode.LogCorrupted,
      reason: `${source.size - scan.goodEnd} bytes after the last entry hold no complete record`,
    })
  }
  return scan
}

function allZero(source: LogSource, begin: number, end: number): boolean {
  for (let at = begin; at < end; ) {
    const bytes = source.read(at, Math.min(BLOCK_SIZE - (at % BLOCK_SIZE), end - at))
    if (bytes.length === 0) break
    for (const byte of bytes) if (byte !== 0) return false
    at += bytes.length
  }
  return true
}

/**
 * Salvage: the offsets of complete entries that start in `[begin, end)` — a FULL or FIRST
 * record (type 1 or 2, offset 0, checksum right) from which a reader gets a whole entry. Every
 * byte position is a candidate, so this finds the entries that the reader's resync skips after
 * a damaged record in the same block. Cheap tests (type, offset) come first, so ranges of
 * zeros or random bytes are scanned quickly; a found entry is stepped over.
 * @param source - The log's bytes.
 * @param begin - First candidate offset.
 * @param end - Candidates stop before this offset.
 * @returns The entries' offsets, in order.
 */
export function findEntries(source: LogSource, begin: number, end: number): number[] {
  const found: number[] = []
  for (let at = begin; at < end; ) {
    const entry = findEntry(source, at, end)
    if (entry === null) break
    found.push(entry.offset)
    // Step over the entry: its records cannot start another one.
    at = Math.max(entry.offset + entry.size, entry.offset + 1)
  }
  return found
}

/**
 * The first whole entry whose first record starts in `[begin, end)`: a FULL or FIRST record
 * (type 1 or 2, offset 0, checksum right) from which a reader gets a complete entry. Every byte
 * position is a candidate; the cheap type and offset tests come first.
 * @param source - The log's bytes.
 * @param begin - First candidate offset.
 * @param end - Candidates stop before this offset.
 * @returns The entry's offset and encoded size, or null when there is none.
 */
export function findEntry(source: LogSource, begin: number, end: number): { offset: number; size: number } | null {
  const record: ParsedRecord = { type: 0, length: 0, offset: 0 }
  for (let blockStart = begin - (begin % BLOCK_SIZE); blockStart < end; blockStart += BLOCK_SIZE) {
    // A copy: the reader below may reuse the source's buffer.
    const block = source.read(blockStart, BLOCK_SIZE).slice()
    if (block.length === 0) return null
    for (let k = Math.max(0, begin - blockStart); k + HEADER_SIZE < block.length && blockStart + k < end; k++) {
      const type = block[k + 4]
      if (type !== RecordType.Full && type !== RecordType.First) continue
      let zero = true
      for (let byte = k + 7; byte < k + HEADER_SIZE; byte++) {
        if (block[byte] !== 0) {
          zero = false
          break
        }
      }
      if (!zero || !parseRecord(block, k, record)) continue
      const offset = blockStart + k
      const entry = readEntry(new LogReader(source, { offset }))
      if (entry instanceof Uint8Array) return { offset, size: encodedSize(offset, entry.length) }
    }
  }
  return null
}
