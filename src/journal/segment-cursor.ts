/**
 * Reads one segment of a journal from a given position: its data through a {@link FileReader}
 * (so the writer may be in another thread or process, or gone), seeking with the sparse offset
 * index and giving each entry its time from the sparse time index.
 * @module
 */
import { closeSync } from 'node:fs'

import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { FileState } from '../aof/file-state.ts'
import type { FileReader } from '../aof/reader.ts'
import { openRegularFile } from '../io/regular-file.ts'
import { LogReader } from '../log/log-reader.ts'
import { listSegments, offsetIndexPath, segmentPath, timeIndexPath } from './layout.ts'
import { lastTimeBefore, lostTime, timesBefore } from './lost-times.ts'
import { SegmentSource } from './segment-source.ts'
import { lastAtMost, readIndex, readIndexFrom } from './sparse-index.ts'
import type { IndexRecords } from './sparse-index.ts'
import { TimeRing } from './time-ring.ts'

/** One entry of a journal. */
export interface JournalEntry {
  /** The entry's position: 0, 1, 2, … across all segments, never reused. */
  readonly position: number
  /**
   * When it was appended, in milliseconds since the epoch: the writer's clock (`Date.now()`)
   * read by the `append()` or `appendBatch()` call that wrote it (one reading for a batch), so
   * never earlier than a clock reading taken before that call nor later than one taken after it,
   * to the millisecond; never decreasing from entry to entry (a clock stepped back repeats the
   * last time).
   */
  readonly time: number
  /**
   * The entry's bytes, owned by the caller: nothing writes them after they are returned. They
   * are a view of a buffer of up to 256 KiB of the segment, which stays in memory while any
   * entry read from it is kept (copy the bytes, `data.slice()`, to keep a few entries long).
   */
  readonly data: Uint8Array
}

/** A reader of one segment, positioned at an entry. */
export class SegmentCursor {
  /** The segment's first position. */
  readonly base: number
  /** The reader of the segment's data file. */
  readonly file: FileReader
  /** Position of the next entry {@link next} returns. */
  position: number
  /** Where the segment ends, once known (the next segment's first position), else Infinity. */
  end = Infinity
  readonly #log: LogReader
  readonly #dir: string
  readonly #timePath: string
  readonly #times: IndexRecords = { first: [], second: [] }
  #timeCursor = -1
  #timesReadAtSize = -1
  /** True once the time index was read after the segment was finished: it has every record. */
  #timesFinal = false
  #timeFd: number | null = null
  /** The journal's time ring, mapped when an entry's time is first looked for there. */
  #ring: TimeRing | null = null
  /** Where the data ended when the ring was last looked for and not found. */
  #ringLookedForAt = -1
  /** The data's size when the ring was last checked for being stale. */
  #ringCheckedAt = -1
  /** The time for entries whose time records were lost, once found (-1: not yet). */
  #lost = -1

  /**
   * Opens the segment starting at `base` of `dir` at `position` (which must be at least `base`).
   * @throws {@link AofkitError} ERR_AOF_NOT_FOUND when the segment is gone; what
   *   `AppendOnlyFile.openReader` throws.
   */
  constructor(dir: string, base: number, position: number) {
    this.base = base
    this.file = AppendOnlyFile.openReader(segmentPath(dir, base))
    this.#dir = dir
    this.#timePath = timeIndexPath(dir, base)
    let start = base
    let offset = 0
    try {
      const index = readIndex(offsetIndexPath(dir, base))
      const at = lastAtMost(index.first, position)
      if (at >= 0 && index.first[at]! >= base) {
        start = index.first[at]!
        offset = index.second[at]!
      }
      this.#log = new LogReader(new SegmentSource(this.file), { offset, live: true })
      this.position = start
      // Entries before the one asked for, after the index record: skipped, at most one interval.
      while (this.position < position) {
        if (this.#log.read() === null) {
          if (this.position !== position) this.#behind = position
          break
        }
        this.position++
      }
    } catch (error) {
      this.file.close()
      throw error
    }
  }

  // A position asked for that the segment did not hold yet: skip up to it as entries arrive.
  #behind = -1

  /**
   * The next entry, or null when the segment holds no more now (or {@link end} is reached).
   * @throws {@link AofkitError} the record log's ERR_LOG_CORRUPTED and ERR_LOG_UNEXPECTED_EOF,
   *   the reader's ERR_AOF_REPLACED.
   */
  next(): JournalEntry | null {
    for (;;) {
      if (this.position >= this.end) return null
      const data = this.#log.read()
      if (data === null) return null
      const position = this.position++
      if (position < this.#behind) continue
      // Never before the last entry's: a time whose record was lost (a ring cut under the
      // writer, before its repair) is no earlier than the last one given.
      const time = Math.max(this.#timeOf(position), this.lastTime)
      this.lastTime = time
      return { position, time, data }
    }
  }

  /**
   * The time of the entry {@link next} returned last (-1: none yet); a reader going on from an
   * earlier segment sets it to that segment's last entry's time, which no later entry's is before.
   */
  lastTime = -1

  /**
   * The time of the entry at `position`, just read. The writer publishes a time record in the
   * journal's time ring before the entry's data, and writes it to the time index file later
   * (before it finishes the segment, and before the record leaves the ring): the file answers
   * for an entry it holds a later record for, or once the segment is finished; otherwise the
   * ring does, and for an entry the ring no longer reaches, the file does.
   */
  #timeOf(position: number): number {
    // The file's records answer in the common case of a cursor catching up.
    if (this.#timesFinal || this.#fileAnswers(position)) return this.#fromFile(position)
    return this.#timeAtEnd(position)
  }

  /** The time of an entry past the last record read from the file: from the ring, or the file. */
  #timeAtEnd(position: number): number {
    let ring = this.#ring
    // A cursor at the writer's end, which found a time in the ring before, looks there first;
    // one catching up reads the file first (most entries then have a later record there), and
    // maps the ring only for entries past the file's last record.
    if (ring === null) {
      const at = this.#log.position
      if (at > this.#timesReadAtSize) {
        this.#readTimes()
        if (this.#timesFinal || this.#fileAnswers(position)) return this.#fromFile(position)
      }
      // Looked for again only as the data grows while there is none (a journal written by an
      // earlier version, whose time records all come before their entries).
      if (at > this.#ringLookedForAt) {
        this.#ringLookedForAt = at
        ring = this.#ring = TimeRing.openReader(this.#dir)
      }
    }
    if (ring !== null) {
      let time = ring.timeOf(position, this.base)
      // No answer, or an older entry's record, may come from a ring the writer no longer
      // publishes in: one deleted, replaced or cut, which the writer (or a new one) made again.
      // Checked once per growth of the data, and not for an entry with a record of its own.
      if ((time < 0 || ring.answeredAt !== position) && this.file.size !== this.#ringCheckedAt) {
        this.#ringCheckedAt = this.file.size
        if (ring.stale()) {
          ring.close()
          this.#ringLookedForAt = this.#log.position
          ring = this.#ring = TimeRing.openReader(this.#dir)
          time = ring === null ? -1 : ring.timeOf(position, this.base)
        }
      }
      if (time >= 0) return time
      // The ring cannot tell: the file holds the record (it may have been written just now).
      this.#readTimes()
    }
    return this.#fromFile(position)
  }

  /** True when the time index read so far has a record after `position`: its time is final. */
  #fileAnswers(position: number): boolean {
    const count = this.#times.second.length
    return count > 0 && this.#times.second[count - 1]! > position
  }

  /**
   * The time of the last record at or before `position` in the time index read so far,
   * walking forward from the last one used; with none (records lost, or not written yet), the
   * time for lost records.
   */
  #fromFile(position: number): number {
    const times = this.#times
    if (this.#timeCursor < 0) this.#timeCursor = Math.max(0, lastAtMost(times.second, position))
    let cursor = this.#timeCursor
    while (cursor + 1 < times.second.length && times.second[cursor + 1]! <= position) cursor++
    this.#timeCursor = cursor
    if (cursor < times.first.length && times.second[cursor]! <= position) return times.first[cursor]!
    const lost = this.#lostTime()
    return times.first.length > 0 ? Math.min(lost, times.first[0]!) : lost
  }

  /**
   * The time for entries before the segment's first time record (docs/FORMAT.md: the earliest
   * time known to be before them, not before the segments before), found once.
   */
  #lostTime(): number {
    if (this.#lost < 0) {
      let bases: number[] = []
      try {
        bases = listSegments(this.#dir)
      } catch {
        // The directory gone: the times the segment file and the marker give.
      }
      this.#lost = lostTime(this.#dir, this.base, timesBefore(this.#dir, false), lastTimeBefore(this.#dir, bases, this.base))
    }
    return this.#lost
  }

  /** Reads the time index's new records; once the segment is finished, the file is complete. */
  #readTimes(): void {
    const finished = this.file.state === FileState.EOF
    this.#timesReadAtSize = this.file.size
    // Kept open while the cursor follows the segment: one pread per change, not an open, a
    // read and a close.
    if (this.#timeFd === null) {
      try {
        this.#timeFd = openRegularFile(this.#timePath)
      } catch {
        // No time index (yet): the entries get the time for lost records until it appears.
      }
    }
    if (this.#timeFd !== null) readIndexFrom(this.#timeFd, this.#times, this.#times.first.length)
    // The writer writes every record to the file before it finishes the segment.
    if (finished) this.#timesFinal = true
  }

  /** Offset in the segment of the next entry's first record (before block padding). */
  get offset(): number {
    return this.#log.position
  }

  /** Closes the data file's reader, the time index and the ring. */
  close(): void {
    this.file.close()
    this.#ring?.close()
    this.#ring = null
    if (this.#timeFd !== null) {
      closeSync(this.#timeFd)
      this.#timeFd = null
    }
  }
}
