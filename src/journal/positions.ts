/**
 * Turning what a caller gives as `from` ('start', 'end', a position, `{ time }`) into a
 * position, and finding a journal's first and next positions from its files.
 * @module
 */
import { describeValue, invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { listSegments, notAJournal, timeIndexPath } from './layout.ts'
import { SegmentCursor } from './segment-cursor.ts'
import { readIndex } from './sparse-index.ts'
import { segmentTimes } from './time-ring.ts'

/**
 * Where reading starts: `'start'` (the first entry still kept), `'end'` (the next entry to be
 * appended), a position, or `{ time }`: the first entry appended at or after `time`
 * (milliseconds since the epoch; the end when there is none).
 */
export type From = 'start' | 'end' | number | { readonly time: number }

/** The first position of `dir` and where its last segment starts, from its listing. */
export function firstPosition(dir: string): number {
  const bases = listSegments(dir)
  if (bases.length === 0) throw notAJournal(dir, 'it has no segment')
  return bases[0]!
}

/** The position the next appended entry will get: the last segment's first plus its entries. */
export function nextPosition(dir: string): number {
  for (let attempt = 0; ; attempt++) {
    const bases = listSegments(dir)
    const last = bases.at(-1)
    if (last === undefined) throw notAJournal(dir, 'it has no segment')
    try {
      const cursor = new SegmentCursor(dir, last, Number.MAX_SAFE_INTEGER)
      const next = cursor.position
      cursor.close()
      return next
    } catch (error) {
      // Deleted or replaced between the listing and the open: list again.
      if (attempt >= 3 || !(error instanceof AofkitError)) throw error
    }
  }
}

/** The first position whose entry was appended at or after `time`, or `end` if none. */
export function positionAtTime(dir: string, time: number, end: number): number {
  const bases = listSegments(dir)
  // Segments from the newest back: the last one whose first entry is older than `time` holds
  // the answer, or the one after it starts with it.
  let after = end
  for (let k = bases.length - 1; k >= 0; k--) {
    // Only the last segment can have records the writer has not written to its file yet.
    const times = k === bases.length - 1 ? segmentTimes(dir, bases[k]!) : readIndex(timeIndexPath(dir, bases[k]!))
    if (times.first.length === 0) {
      after = bases[k]!
      continue
    }
    if (times.first[0]! >= time) {
      after = Math.min(times.second[0]!, end)
      continue
    }
    for (let r = 1; r < times.first.length; r++) {
      if (times.first[r]! >= time) return Math.min(times.second[r]!, end)
    }
    return k + 1 < bases.length ? bases[k + 1]! : end
  }
  return after
}

/** Checks `from` and turns it into a position between the first and the next. */
export function resolveFrom(dir: string, from: unknown, next: () => number): number {
  if (from === undefined || from === 'start') return firstPosition(dir)
  if (from === 'end') return next()
  if (typeof from === 'number') {
    if (!Number.isSafeInteger(from) || from < 0) throw invalidArgument(`from must be 'start', 'end', a position or { time }, got ${String(from)}`)
    // Before the last segment: a position that exists (or existed). Only a position in the last
    // segment needs its end, which a reader finds by reading that segment's end.
    const bases = listSegments(dir)
    if (bases.length > 1 && from < bases[bases.length - 1]!) return from
    const end = next()
    if (from > end) {
      throw new AofkitError(ErrorCode.JournalOutOfRange, `position ${from} is beyond the end of journal '${dir}' (next position ${end})`, { path: dir })
    }
    return from
  }
  if (from !== null && typeof from === 'object' && typeof (from as { time?: unknown }).time === 'number') {
    const time = (from as { time: number }).time
    if (!Number.isFinite(time)) throw invalidArgument(`from.time must be a finite number of milliseconds, got ${String(time)}`)
    return positionAtTime(dir, time, next())
  }
  throw invalidArgument(`from must be 'start', 'end', a position or { time }, got ${describeValue(from)}`)
}
