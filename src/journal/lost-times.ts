/**
 * The time given to entries whose time records were lost (a time index deleted or cut, a ring
 * that could not be used): a time before all of them, never a later one (docs/FORMAT.md,
 * "The sparse indexes", recovery). The writer records it when it reopens the journal; a reader
 * of a segment the writer will not reopen (a finished one) gives it too.
 * @module
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'

import { MARKER_NAME, WRITER_LOCK_NAME, segmentPath } from './layout.ts'
import { segmentTimes } from './time-ring.ts'

/**
 * When `path` was last written, to the millisecond; -1 when it is missing. For the lock file:
 * when the journal's last writer opened it (it rewrites the file then, and nothing else writes
 * it); for the marker: when the journal was created.
 */
function modifiedAt(path: string): number {
  try {
    return Math.floor(statSync(path).mtimeMs)
  } catch {
    return -1
  }
}

/**
 * Times known to be before the entries of `dir`'s segments, read before a writer's open
 * rewrites the lock file: when the last writer opened the journal (for a writer reopening it),
 * and when the journal was created.
 */
export function timesBefore(dir: string, withLastOpen: boolean): number[] {
  const created = modifiedAt(join(dir, MARKER_NAME))
  return withLastOpen ? [modifiedAt(join(dir, WRITER_LOCK_NAME)), created] : [created]
}

/**
 * The time of the last entry in the segments of `bases` before the one at `base`, from the
 * newest one that holds one; -1 for none.
 */
export function lastTimeBefore(dir: string, bases: readonly number[], base: number): number {
  for (let index = bases.indexOf(base) - 1; index >= 0; index--) {
    const times = segmentTimes(dir, bases[index]!, bases[index + 1]).first
    if (times.length > 0) return times[times.length - 1]!
  }
  return -1
}

/**
 * The time for the entries of the segment of `dir` at `base` whose time records were lost: the
 * earliest of the times known to be before them, the segment file's birth time among them, and
 * never before `floor` (the last entry of the segments before). Each alone can be later than
 * some entries (a copy's birth time is when the copy was made; the last writer opened the
 * journal after the entries an earlier writer appended to the same segment; a file touched):
 * the earliest is the one that holds. Now, when none is known.
 */
export function lostTime(dir: string, base: number, before: readonly number[], floor: number): number {
  let born = -1
  try {
    born = Math.floor(statSync(segmentPath(dir, base)).birthtimeMs)
  } catch {
    // A segment deleted under a reader: the other times.
  }
  const known = [born, ...before].filter((time) => time > 0)
  return Math.max(known.length > 0 ? Math.min(...known) : Date.now(), floor)
}
