/**
 * A record log's torn tail: where the bytes a writer left half-written at its end begin, and
 * cutting them off. A log written by a writer that died mid-append ends with part of an entry;
 * everything before it reads whole. Damage anywhere else is not a torn tail, and neither is a
 * tail that still holds a complete entry: cutting there would lose entries, so it is refused.
 * @module
 */
import { closeSync } from 'node:fs'
import { truncateDurably } from '../io/durable.ts'
import { openLocked } from '../io/lock.ts'
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
 * (damage before the end, or complete entries after the damage), which no cut may repair.
 */
export type LogTail =
  | { kind: 'whole' }
  | { kind: 'torn'; tail: TornTail }
  | { kind: 'damaged'; range: DamagedRange; entryAfter: boolean }

/**
 * Finds a record log's torn tail.
 * @param source - The log's bytes, up to its end.
 * @param scan - The result of `scanLog(source)`, when the caller has it already.
 * @returns `whole`; `torn` with the range to cut; or `damaged` with the first range that forbids
 *   a cut (`entryAfter`: a complete entry lies inside the last damaged range, after the damage).
 * @throws {@link AofkitError} system codes when the source cannot be read.
 */
export function findTornTail(source: LogSource, scan: LogScan = scanLog(source)): LogTail {
  const last = scan.damaged.at(-1)
  if (last === undefined) return { kind: 'whole' }
  const early = scan.damaged.find((range) => range.end < source.size)
  if (early !== undefined) return { kind: 'damaged', range: early, entryAfter: false }
  if (findEntry(source, last.begin, last.end) !== null) return { kind: 'damaged', range: last, entryAfter: true }
  return { kind: 'torn', tail: { offset: last.begin, end: source.size, reason: last.reason } }
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
