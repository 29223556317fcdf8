/**
 * Reading a journal's entries across its segments to the end (`read`), and the segment steps
 * that following them live shares (`follower.ts`). Shared by the writer's and the readers'
 * `read()` and `follow()`.
 * @module
 */
import { FileState } from '../aof/file-state.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
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

/** Listings before a segment that retention keeps deleting under the open is a failure. */
const OPEN_ATTEMPTS = 100

/**
 * Opens the segment holding `position`; a position retention deleted is skipped (telling
 * `onTruncated`) or refused with ERR_JOURNAL_TRUNCATED.
 */
export function openAt(dir: string, position: number, onTruncated: OnTruncated | undefined): Opened {
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
      // Deleted between the listing and the open (retention), whatever part of it the open
      // missed (the file, or its sidecar unlinked after the file was opened): list again.
      if (attempt < OPEN_ATTEMPTS && !listSegments(dir).includes(bases[at]!)) continue
      throw error
    }
  }
}

/**
 * The first position of the segment after the one starting at `base`, undefined when there is
 * none yet, or null when the segment at `base` itself is gone (retention deleted it).
 */
export function segmentAfter(dir: string, base: number): number | undefined | null {
  const bases = listSegments(dir)
  if (!bases.includes(base)) return null
  return bases.find((candidate) => candidate > base)
}

export function shortSegment(dir: string, cursor: SegmentCursor, end: number): AofkitError {
  return new AofkitError(
    ErrorCode.LogCorrupted,
    `the segment of journal '${dir}' starting at ${cursor.base} ends at position ${cursor.position}, before the next segment's first (${end})`,
    { path: dir },
  )
}

/**
 * The entries from a position up to `to` (exclusive) or the journal's end as it is when
 * reached, one call at a time, across segments. At the end it keeps its segment open: a later
 * call goes on with what was appended since (a consumer's batches read through one).
 */
export class EntryReader {
  readonly #dir: string
  readonly #to: number
  readonly #onTruncated: OnTruncated | undefined
  #position: number
  #cursor: SegmentCursor | null = null
  /** The time of the last entry returned (-1: none yet): the next segment's are not before it. */
  #lastTime = -1
  // The position where a segment last read short of the next one: once more with a fresh
  // reader (one opened while its writer was still creating the file sees no data), then damage.
  #short = -1

  constructor(dir: string, from: number, to: number, onTruncated: OnTruncated | undefined) {
    this.#dir = dir
    this.#position = from
    this.#to = to
    this.#onTruncated = onTruncated
  }

  /** The position of the next entry. */
  get position(): number {
    return this.#position
  }

  /**
   * The next entry, or null at `to` or at the journal's end as it is now.
   * @throws {@link AofkitError} ERR_JOURNAL_TRUNCATED (without `onTruncated`), the record
   *   log's errors, ERR_LOG_CORRUPTED for a segment short of the next one.
   */
  next(): JournalEntry | null {
    const dir = this.#dir
    for (;;) {
      if (this.#position >= this.#to) return null
      let cursor = this.#cursor
      if (cursor === null) {
        cursor = openAt(dir, this.#position, this.#onTruncated).cursor
        cursor.lastTime = this.#lastTime
        this.#cursor = cursor
      }
      const entry = cursor.next()
      if (entry !== null) {
        if (entry.position >= this.#to) return null
        this.#position = entry.position + 1
        this.#lastTime = entry.time
        return entry
      }
      const position = cursor.position
      this.#position = position
      const end = cursor.end === Infinity ? segmentAfter(dir, cursor.base) : cursor.end
      if (end === undefined) return null
      // Deleted under the reader (end null): opening the position again finds it kept or
      // truncated. Past its end: the next segment.
      this.close()
      if (end === null || position >= end) continue
      // A roll since the listing: the segment may have received entries meanwhile.
      if (cursor.end === Infinity || this.#short !== position) {
        this.#short = position
        continue
      }
      throw shortSegment(dir, cursor, end)
    }
  }

  /**
   * Resolves at the next change of the segment this reader reached the end of (its writer's
   * next commit, finish or close), or null when that is not what to wait for: no segment open,
   * or one that is finished or whose writer is gone (then wait as `follow()` does).
   */
  changed(signal: AbortSignal | undefined): Promise<void> | null {
    const cursor = this.#cursor
    if (cursor === null || cursor.end !== Infinity) return null
    const file = cursor.file
    if (file.state !== FileState.Opened || file.failure !== null) return null
    return file.nextChange(signal)
  }

  /** Closes the segment open, if any (a later next() opens it again). Idempotent. */
  close(): void {
    const cursor = this.#cursor
    if (cursor === null) return
    this.#cursor = null
    cursor.close()
  }
}

/** Entries from `from` up to `to` (exclusive) or the journal's end, whichever comes first. */
export function* readEntries(dir: string, from: number, to: number, onTruncated?: OnTruncated): Generator<JournalEntry, void, undefined> {
  const reader = new EntryReader(dir, from, to, onTruncated)
  try {
    for (;;) {
      const entry = reader.next()
      if (entry === null) return
      yield entry
    }
  } finally {
    reader.close()
  }
}
