/**
 * Reads one segment of a journal from a given position: its data through a {@link FileReader}
 * (so the writer may be in another thread or process, or gone), seeking with the sparse offset
 * index and giving each entry its time from the sparse time index.
 * @module
 */
import { closeSync, openSync } from 'node:fs'

import { AppendOnlyFile } from '../aof/append-only-file.ts'
import type { FileReader } from '../aof/reader.ts'
import { LogReader } from '../log/log-reader.ts'
import { offsetIndexPath, segmentPath, timeIndexPath } from './layout.ts'
import { SegmentSource } from './segment-source.ts'
import { lastAtMost, readIndex, readIndexFrom } from './sparse-index.ts'
import type { IndexRecords } from './sparse-index.ts'

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
  readonly #timePath: string
  readonly #times: IndexRecords = { first: [], second: [] }
  #timeCursor = -1
  #timesReadAtSize = -1
  #timeFd: number | null = null

  /**
   * Opens the segment starting at `base` of `dir` at `position` (which must be at least `base`).
   * @throws {@link AofkitError} ERR_AOF_NOT_FOUND when the segment is gone; what
   *   `AppendOnlyFile.openReader` throws.
   */
  constructor(dir: string, base: number, position: number) {
    this.base = base
    this.file = AppendOnlyFile.openReader(segmentPath(dir, base))
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
      return { position, time: this.#timeOf(position), data }
    }
  }

  /** The time of the entry at `position`, just read. */
  #timeOf(position: number): number {
    const times = this.#times
    if (this.#log.position > this.#timesReadAtSize) {
      // The writer adds a time record before the entry's data: once the data is seen, reading
      // the index finds every record up to it.
      this.#timesReadAtSize = this.file.size
      // Kept open while the cursor follows the segment: one pread per change, not an open, a
      // read and a close (which cost a live follower a third of its wake-up latency).
      if (this.#timeFd === null) {
        try {
          this.#timeFd = openSync(this.#timePath, 'r')
        } catch {
          // No time index (yet): the entries get time 0 until it appears.
        }
      }
      if (this.#timeFd !== null) readIndexFrom(this.#timeFd, times, times.first.length)
      if (this.#timeCursor < 0) this.#timeCursor = Math.max(0, lastAtMost(times.second, position))
    }
    let cursor = this.#timeCursor
    while (cursor + 1 < times.second.length && times.second[cursor + 1]! <= position) cursor++
    this.#timeCursor = cursor
    return cursor >= 0 && cursor < times.first.length ? times.first[cursor]! : 0
  }

  /** Offset in the segment of the next entry's first record (before block padding). */
  get offset(): number {
    return this.#log.position
  }

  /** Closes the data file's reader and the time index. */
  close(): void {
    this.file.close()
    if (this.#timeFd !== null) {
      closeSync(this.#timeFd)
      this.#timeFd = null
    }
  }
}
