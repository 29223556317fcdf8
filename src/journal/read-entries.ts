/**
 * Reading a journal's entries across its segments: to the end (`read`), or live, following the
 * writer across rolls, and across the writer process stopping and a new one opening the
 * journal (`follow`). Shared by the writer's and the readers' `read()` and `follow()`.
 * @module
 */
import { FileState } from '../aof/file-state.ts'
import { AofkitError, ErrorCode, abortError } from '../errors.ts'
import type { DirectoryWatch } from './directory-watch.ts'
import { listSegments, notAJournal } from './layout.ts'
import { SegmentCursor } from './segment-cursor.ts'
import type { JournalEntry } from './segment-cursor.ts'
import { lastAtMost } from './sparse-index.ts'
import { JournalTruncatedError } from './truncated-error.ts'
import type { TruncatedGap } from './truncated-error.ts'

/** Called instead of throwing ERR_JOURNAL_TRUNCATED: the reader skips the deleted entries. */
export type OnTruncated = (gap: TruncatedGap) => void

/** A segment opened at a position. */
interface Opened {
  cursor: SegmentCursor
}

/**
 * Opens the segment holding `position`; a position retention deleted is skipped (telling
 * `onTruncated`) or refused with ERR_JOURNAL_TRUNCATED.
 */
function openAt(dir: string, position: number, onTruncated: OnTruncated | undefined): Opened {
  for (let attempt = 0; ; attempt++) {
    const bases = listSegments(dir)
    if (bases.length === 0) throw notAJournal(dir, 'it has no segment')
    const first = bases[0]!
    if (position < first) {
      if (onTruncated === undefined) throw new JournalTruncatedError(dir, position, first)
      onTruncated({ from: position, to: first, lost: first - position })
      position = first
    }
    const at = lastAtMost(bases, position)
    try {
      const cursor = new SegmentCursor(dir, bases[at]!, position)
      cursor.end = bases[at + 1] ?? Infinity
      return { cursor }
    } catch (error) {
      // Deleted between the listing and the open (retention): list again.
      if (attempt < 5 && error instanceof AofkitError && error.code === ErrorCode.NotFound) continue
      throw error
    }
  }
}

/**
 * The first position of the segment after the one starting at `base`, undefined when there is
 * none yet, or null when the segment at `base` itself is gone (retention deleted it).
 */
function segmentAfter(dir: string, base: number): number | undefined | null {
  const bases = listSegments(dir)
  if (!bases.includes(base)) return null
  return bases.find((candidate) => candidate > base)
}

function shortSegment(dir: string, cursor: SegmentCursor, end: number): AofkitError {
  return new AofkitError(
    ErrorCode.LogCorrupted,
    `the segment of journal '${dir}' starting at ${cursor.base} ends at position ${cursor.position}, before the next segment's first (${end})`,
    { path: dir },
  )
}

/** Entries from `from` up to `to` (exclusive) or the journal's end, whichever comes first. */
export function* readEntries(dir: string, from: number, to: number, onTruncated?: OnTruncated): Generator<JournalEntry, void, undefined> {
  let position = from
  // The position where a segment last read short of the next one: once more with a fresh
  // reader (one opened while its writer was still creating the file sees no data), then damage.
  let short = -1
  while (position < to) {
    const { cursor } = openAt(dir, position, onTruncated)
    try {
      for (;;) {
        const entry = cursor.next()
        if (entry === null) break
        if (entry.position >= to) return
        position = entry.position + 1
        yield entry
      }
      position = cursor.position
      const end = cursor.end === Infinity ? segmentAfter(dir, cursor.base) : cursor.end
      if (end === undefined) return
      // Deleted under the reader: opening the position again finds it kept or truncated.
      if (end === null) continue
      if (position < end) {
        // A roll since the listing: the segment may have received entries meanwhile.
        if (cursor.end === Infinity || short !== position) {
          short = position
          continue
        }
        throw shortSegment(dir, cursor, end)
      }
    } finally {
      cursor.close()
    }
  }
}

/** Waits; false when the wait ended because the owner closed (its abort), else true. */
async function waitFor(wait: Promise<void>, stopped: () => boolean): Promise<boolean> {
  try {
    await wait
  } catch (error) {
    if (stopped()) return false
    throw error
  }
  return !stopped()
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal)
}

/** Options of {@link followEntries}. */
export interface FollowEntriesOptions {
  signal?: AbortSignal | undefined
  onTruncated?: OnTruncated | undefined
  /** True once the journal or reader followed is closed: following then returns. */
  stopped: () => boolean
}

/**
 * Entries from `from` on, live: waits at the end for the writer (its wake-up), moves to the next
 * segment when one is finished, and when the writer is gone (closed or dead) waits for the
 * directory to change (a new writer opening the journal) and goes on.
 */
export async function* followEntries(
  dir: string,
  from: number,
  watch: DirectoryWatch,
  options: FollowEntriesOptions,
): AsyncGenerator<JournalEntry, void, undefined> {
  const { signal, onTruncated, stopped } = options
  let position = from
  // As in readEntries.
  let short = -1
  for (;;) {
    if (stopped()) return
    throwIfAborted(signal)
    const { cursor } = openAt(dir, position, onTruncated)
    try {
      for (;;) {
        const generation = watch.generation
        const state = cursor.file.state
        const failure = cursor.file.failure
        for (;;) {
          if (stopped()) return
          throwIfAborted(signal)
          const entry = cursor.next()
          if (entry === null) break
          position = entry.position + 1
          yield entry
        }
        position = cursor.position
        if (cursor.end !== Infinity && position >= cursor.end) break
        if (state === FileState.Opened && failure === null) {
          if (!(await waitFor(cursor.file.nextChange(signal), stopped))) return
          continue
        }
        // Finished, or its writer gone: a next segment, or a new writer, is in the directory.
        const end = segmentAfter(dir, cursor.base)
        if (end === null) break
        if (end !== undefined) {
          if (position >= end) break
          // Finished and read to its end, yet short of the next segment: damage.
          if (state === FileState.EOF && failure === null) {
            if (short === position) throw shortSegment(dir, cursor, end)
            short = position
            break
          }
        }
        if (!(await waitFor(watch.changedSince(generation, signal), stopped))) return
        break
      }
    } finally {
      cursor.close()
    }
  }
}
