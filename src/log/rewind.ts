/**
 * Rewind: find where the last entry before a given offset starts, so a log can be walked
 * backwards from its end (the reference's `logio.Rewind`).
 * @module
 */
import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { BLOCK_SIZE, HEADER_SIZE, parseRecord } from './format.ts'
import type { ParsedRecord } from './format.ts'
import type { LogSource } from './sources.ts'

/**
 * Returns the absolute offset of the start of the last entry that begins before `limit`,
 * reading only bytes before `limit`; `null` when there is none (the reference's EOF). Walk a
 * log backwards with `for (let at = rewind(s, s.size); at !== null; at = rewind(s, at))`.
 *
 * Like the reference it looks at the last valid record of the last block before `limit` that
 * has one, and follows that record's offset back to its entry's FIRST record. So it may return
 * the start of an entry that cannot be read completely (its LAST record is missing), and it
 * may step over earlier entries when a damaged record's offset leads nowhere.
 * @param source - The log's bytes.
 * @param limit - Absolute offset to search before (usually the log's size).
 * @returns The entry's offset, or `null` if no entry starts before `limit`.
 * @throws {@link AofkitError} ERR_LOG_CORRUPTED when a record's offset points before the start
 *   of the file (the reference crashes or fails there). ERR_AOF_INVALID_ARGUMENT for a bad
 *   `limit`. System error codes if a file read fails.
 */
export function rewind(source: LogSource, limit: number): number | null {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw invalidArgument(`limit must be a non-negative safe integer, got ${String(limit)}`)
  }
  if (limit <= HEADER_SIZE) return null
  const record: ParsedRecord = { type: 0, length: 0, offset: 0 }
  let offset = limit - (limit % BLOCK_SIZE)
  if (offset === limit) offset -= BLOCK_SIZE
  while (offset >= 0) {
    offset -= offset % BLOCK_SIZE
    const block = source.read(offset, Math.min(BLOCK_SIZE, limit - offset))
    let cursor = 0
    let lastPosition = -1
    let lastOffset = 0
    while (parseRecord(block, cursor, record)) {
      lastPosition = cursor
      lastOffset = record.offset
      cursor += HEADER_SIZE + record.length
    }
    if (lastPosition < 0) {
      offset -= BLOCK_SIZE
      continue
    }
    const start = offset + lastPosition - lastOffset
    if (start < 0) {
      throw new AofkitError(
        ErrorCode.LogCorrupted,
        `corrupted log: the record at offset ${offset + lastPosition} points before the start of the file`,
      )
    }
    const first = source.read(start, Math.min(BLOCK_SIZE - (start % BLOCK_SIZE), limit - start))
    if (parseRecord(first, 0, record) && record.offset === 0) return start
    offset = start - BLOCK_SIZE
  }
  return null
}
