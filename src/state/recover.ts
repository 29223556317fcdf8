/**
 * Recovery for writing: where a state log that may end in a torn entry can be appended to.
 * The reference's `NewFileWriter` fails when its restore fails on a torn last entry, and
 * appends after a torn update otherwise (where a reader's resync then drops the new entries).
 * Here the torn tail is found and cut, as Redis does with `aof-load-truncated`; damage before
 * the tail stays an error.
 * @module
 */
import { AofkitError, ErrorCode } from '../errors.ts'
import { BLOCK_SIZE, encodedSize } from '../log/format.ts'
import { LogReader } from '../log/log-reader.ts'
import { rewind } from '../log/rewind.ts'
import { findEntry, readEntry } from '../log/scan.ts'
import type { LogSource } from '../log/sources.ts'
import { notATornWrite } from '../log/torn-tail.ts'
import { restoreFromLog } from './restore.ts'
import type { RestoredAt } from './restore.ts'

/** A torn tail cut away on open. */
export interface TailCut {
  /** The offset the log was cut back to: the end of its last complete entry. */
  offset: number
  /** How many bytes were cut. */
  size: number
  /** What was wrong with them (the record log's or the state log's error message). */
  reason: string
}

/** Where a log can be appended to, and its epoch there. @internal */
export interface Recovered {
  /** The epoch a writer continues. */
  epoch: number
  /** The end of the last complete entry: where the next entry goes. */
  end: number
  /** The torn tail after `end`, if any (not cut yet: the caller truncates). */
  cut: TailCut | null
  /**
   * The restore of the log's first `end` bytes that recovery made on the way, its updates not
   * read yet, or null when recovery restored a different length (restore those bytes again).
   */
  restored: RestoredAt | null
}

/**
 * True if a whole record-log entry starts after `from` (see {@link findEntry}): every byte
 * position is a candidate, since the reference's resync would skip the rest of a damaged block.
 */
function completeEntryAfter(source: LogSource, from: number): boolean {
  return findEntry(source, from + 1, source.size) !== null
}

/**
 * Throws unless the bytes from `end` on are what a torn write leaves (see src/log/torn-tail.ts): the
 * rule that repair never cuts a complete entry, damage, or a file that is not a log.
 */
function refuseUnlessTorn(source: LogSource, end: number, found: string): void {
  const why = notATornWrite(source, end)
  if (why === null) return
  throw new AofkitError(
    ErrorCode.LogCorrupted,
    `corrupted log after offset ${end} (${found}): ${why}, which a torn write cannot leave; nothing was cut (see aof verify --thorough)`,
  )
}

/**
 * Finds where a writer may append to the state log in `source`: restores its epoch and reads
 * on to the last complete entry. Bytes after it that hold no complete entry are a torn tail,
 * returned in `cut`. A log whose last entry cannot be read is restored as if it ended before
 * that entry.
 * @param source - The whole log.
 * @returns The epoch, the end of the complete entries, and the tail to cut.
 * @throws {@link AofkitError} the restore's errors when the damage is not at the tail (a
 *   complete entry follows it), ERR_STATE_CORRUPT for malformed state entries, and
 *   ERR_LOG_CORRUPTED when the bytes after the last complete entry are not what a torn write
 *   leaves (a complete record failing its checksum, fields that do not fit their position, a
 *   file that is not a log), or for a log with no record in its first block and more after it.
 * @internal
 */
export function recoverForWriting(source: LogSource): Recovered {
  const size = source.size
  if (size === 0) return { epoch: 0, end: 0, cut: null, restored: null }
  const last = rewind(source, size)
  if (last === null) {
    // Rewind found no record: a first entry torn within the first block, damage in the last
    // block's first record (rewind reads a block from its start), or not a log at all.
    if (size > BLOCK_SIZE) {
      throw new AofkitError(ErrorCode.LogCorrupted, `corrupted log: no record in ${size} bytes`)
    }
    const found = findEntry(source, 0, size)
    if (found !== null) {
      throw new AofkitError(
        ErrorCode.LogCorrupted,
        `corrupted log: the record at offset 0 is damaged and a complete entry follows at offset ${found.offset}: damage, not a torn write; nothing was cut`,
      )
    }
    refuseUnlessTorn(source, 0, 'no complete record')
    return { epoch: 0, end: 0, cut: { offset: 0, size, reason: 'no complete record' }, restored: null }
  }
  // A torn last entry: restore as if the log ended before it.
  const limit = readEntry(new LogReader(source, { offset: last })) instanceof AofkitError ? last : size
  const restored = restoreFromLog(source, limit)
  // Its updates are read below by a reader of our own; a writer opening the log reuses it.
  const reader = new LogReader(source, { offset: restored.updatesOffset })
  let end = restored.updatesOffset
  for (;;) {
    const entry = readEntry(reader)
    if (entry instanceof AofkitError) {
      if (completeEntryAfter(source, end)) throw entry
      refuseUnlessTorn(source, end, entry.message)
      const cut = { offset: end, size: size - end, reason: entry.message }
      return { epoch: restored.epoch, end, cut, restored: end === limit ? restored : null }
    }
    if (entry === null) break
    end = reader.entryOffset + encodedSize(reader.entryOffset, entry.length)
  }
  if (end < size) refuseUnlessTorn(source, end, 'bytes after the last entry')
  const cut = end < size ? { offset: end, size: size - end, reason: 'bytes after the last entry' } : null
  return { epoch: restored.epoch, end, cut, restored: end === limit ? restored : null }
}

/**
 * The error for a torn entry in an AppendOnlyFile, where every entry is one append that lands
 * whole or not at all: it is damage, not a crash's leftover.
 * @internal
 */
export function tornInAppendOnlyFile(path: string, offset: number, reason: string): AofkitError {
  return new AofkitError(ErrorCode.LogCorrupted, `corrupted state log in '${path}' at offset ${offset}: ${reason}`, { path })
}
