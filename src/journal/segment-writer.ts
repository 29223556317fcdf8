/**
 * The segment a journal appends to: an AppendOnlyFile holding a record log, with its sparse
 * offset and time indexes. Opening an existing segment counts its entries from the last offset
 * index record (or from the start when the index does not fit the data) and drops index
 * records that the data does not back.
 * @module
 */
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { FileState } from '../aof/file-state.ts'
import { SIZE_UPPER_MAX } from '../aof/geometry.ts'
import { AofkitError } from '../errors.ts'
import { encodedSize } from '../log/format.ts'
import { LogReader } from '../log/log-reader.ts'
import { LogWriter } from '../log/log-writer.ts'
import { AppendOnlyFileSource } from '../log/sources.ts'
import { BatchSink } from './batch-sink.ts'
import { offsetIndexPath, segmentPath, timeIndexPath } from './layout.ts'
import { lostTime } from './lost-times.ts'
import { IndexWriter, readIndex } from './sparse-index.ts'
import { RING_PENDING_MAX } from './time-ring.ts'
import type { TimeRing } from './time-ring.ts'

/** Data bytes between two offset index records (at most). */
export const OFFSET_INDEX_INTERVAL = 16 * 1024
/**
 * Offset index records written at once (64: every MiB of data), and the rest when the event
 * loop turns: one write per record cost a burst of 100 B appends 5% of its time.
 */
const OFFSET_INDEX_BATCH = 64

/**
 * How long a time record may wait in the time ring before it is written to the time index file
 * (also written at every {@link RING_PENDING_MAX} records, a sync, a roll and a close): the
 * file is for seeks, for recovery and for readers that lag behind the ring, not for a live
 * reader, so the write is kept off the appends that readers wait for.
 */
const TIME_INDEX_DEFER_MS = 1000

/**
 * Room a segment made by a roll has past `segmentBytes` (or past its first entry, when that is
 * larger): more than the MagicTail the file writes after its data.
 */
const SEGMENT_SLACK = 64 * 1024

/**
 * The `sizeUpper` of a segment a roll makes for an append of `firstBytes`: every later append
 * that fits in `segmentBytes` goes to it, and none that does not. Opening a file costs more the
 * larger its `sizeUpper` (its mapping), so a roll inside an append burst maps what the segment
 * can hold, not the largest file there is.
 */
export function segmentSizeUpper(segmentBytes: number, firstBytes: number): number {
  return Math.min(SIZE_UPPER_MAX, Math.max(segmentBytes, firstBytes) + SEGMENT_SLACK)
}

/** Bytes `sizes` take as entries appended in order from offset `at` of a segment. */
export function bytesFrom(at: number, sizes: readonly number[]): number {
  let end = at
  for (const size of sizes) end += encodedSize(end, size)
  return end - at
}

/** What counting a segment's entries found. */
interface Scan {
  /** Entries in the segment (valid ones, up to any damage). */
  count: number
  /** Offset just past the last valid entry. */
  end: number
  /** Offsets of entries past the last kept index record, for new index records. */
  offsets: Array<{ position: number; offset: number }>
  /** The record log's error where counting stopped early, if any. */
  damage: AofkitError | null
}

/** Counts the entries of `file` from (position, offset), an entry boundary. */
function scan(file: AppendOnlyFile, position: number, offset: number): Scan {
  const reader = new LogReader(new AppendOnlyFileSource(file), { offset })
  const offsets: Scan['offsets'] = []
  let count = position
  let end = offset
  try {
    for (;;) {
      const data = reader.read()
      if (data === null) break
      offsets.push({ position: count, offset: reader.entryOffset })
      count++
      end = reader.position
    }
  } catch (error) {
    if (!(error instanceof AofkitError)) throw error
    return { count, end, offsets, damage: error }
  }
  return { count, end: Math.max(end, reader.position), offsets, damage: null }
}

/** What a {@link SegmentWriter} is opened with besides its place and ring. */
export interface SegmentWriterOptions {
  /** The most data it can take (see {@link segmentSizeUpper}); default the largest file there is. */
  sizeUpper?: number | undefined
  /**
   * Times known to be before the segment's entries, for entries whose times were lost (-1:
   * unknown): see `timesBefore` in lost-times.ts.
   */
  timesBefore?: readonly number[]
  /**
   * The time of the last entry before the segment (-1: none), which no entry of it is before:
   * asked for only when times were lost.
   */
  lastBefore?: () => number
}

/** The journal's open segment. */
export class SegmentWriter {
  /** The segment's first position. */
  readonly base: number
  readonly file: AppendOnlyFile
  /** Set when opening found a record the log cannot read: the journal rolls past it. */
  readonly damage: AofkitError | null
  #writer: LogWriter
  readonly #sink: BatchSink
  readonly #offsets: IndexWriter
  readonly #times: IndexWriter
  readonly #ring: TimeRing
  #next: number
  #lastTime = -1
  /** The time of the first entry, once known (-1: not yet looked up). */
  #firstTime = -1
  #lastIndexed = 0

  /**
   * Opens (or, with `create`, creates) the segment of `dir` starting at `base`.
   * @param ring - The journal's time ring: records are published there before the entry, and
   *   what only it holds (a writer that crashed) is copied into the time index.
   * @throws {@link AofkitError} what `AppendOnlyFile.open` throws (ERR_AOF_LOCKED…).
   */
  constructor(dir: string, base: number, create: boolean, ring: TimeRing, options: SegmentWriterOptions = {}) {
    const { sizeUpper = SIZE_UPPER_MAX, timesBefore = [], lastBefore = () => -1 } = options
    this.base = base
    this.#ring = ring
    this.file = AppendOnlyFile.open(segmentPath(dir, base), { create, geometry: { sizeUpper } })
    try {
      const size = this.file.size
      const found = readIndex(offsetIndexPath(dir, base))
      // Index records must name entries inside the data, the first at or after `base`.
      let usable = 0
      while (usable < found.first.length && found.first[usable]! >= base && found.second[usable]! > 0 && found.second[usable]! < size) usable++
      let result: Scan | null = null
      if (usable > 0) {
        result = scan(this.file, found.first[usable - 1]!, found.second[usable - 1]!)
        if (result.damage !== null || result.offsets[0]?.offset !== found.second[usable - 1]) result = null
        if (result !== null) result.offsets.shift()
      }
      if (result === null) {
        usable = 0
        result = scan(this.file, base, 0)
      }
      this.damage = result.damage
      this.#next = result.count
      const keptOffsets = usable
      let kept = 0
      // A hint rebuilt from the data at recovery: written in batches (see OFFSET_INDEX_BATCH).
      this.#offsets = new IndexWriter(offsetIndexPath(dir, base), () => kept++ < keptOffsets, OFFSET_INDEX_BATCH)
      this.#lastIndexed = keptOffsets > 0 ? found.second[keptOffsets - 1]! : 0
      for (const { position, offset } of result.offsets) this.#index(position, offset)
      const count = this.#next
      this.#times = new IndexWriter(
        timeIndexPath(dir, base),
        (_time, position) => position >= base && position < count,
        RING_PENDING_MAX,
        TIME_INDEX_DEFER_MS,
        this.#keepRing,
      )
      const times = this.#times.records
      this.#lastTime = times.first.length > 0 ? times.first[times.first.length - 1]! : -1
      const held = ring.records().filter(({ position }) => position >= base && position < count)
      if (count > base && times.first.length === 0 && (held[0]?.position ?? count) > base) {
        // Times lost (with the time index, or in a ring that could not be used), at least those
        // of the entries before the ring's first record: they get a time known to be before
        // all of them, never a later one.
        // Never before the entries of the segments before.
        const lost = lostTime(dir, base, timesBefore, lastBefore())
        this.#lastTime = held.length > 0 ? Math.min(lost, held[0]!.time - 1) : lost
        this.#times.append(this.#lastTime, base)
      }
      // Records the ring held and the file did not get (the last writer's process died first).
      for (const { time, position } of held) {
        const lastPosition = times.second.length > 0 ? times.second[times.second.length - 1]! : -1
        if (position < base || position >= count || position <= lastPosition || time <= this.#lastTime) continue
        this.#times.append(time, position)
        this.#lastTime = time
      }
      this.#times.flush()
      // The ring may hold records of entries the last writer did not get to append (it
      // publishes a record before its entry): this one replaces them for the entries to come.
      if (this.#lastTime >= 0) ring.publish(this.#lastTime, count)
      this.#sink = new BatchSink(this.file)
      this.#writer = new LogWriter(this.#sink, { offset: size })
    } catch (error) {
      void this.file.close()
      throw error
    }
  }

  /** Position of the next entry. */
  get next(): number {
    return this.#next
  }

  /** Data bytes in the segment. */
  get size(): number {
    return this.file.size
  }

  /** The time of the segment's first entry, or -1 when it holds none. */
  get firstTime(): number {
    if (this.#next === this.base) return -1
    if (this.#firstTime < 0) {
      const times = this.#times.records
      if (times.first.length === 0) return -1
      this.#firstTime = times.first[0]!
    }
    return this.#firstTime
  }

  /** Where the next entry goes: the data bytes in the segment, outside a batch. */
  get position(): number {
    return this.#writer.position
  }

  /** True when an entry of `size` bytes, appended now, would end past `limit`. */
  wouldExceed(size: number, limit: number): boolean {
    const at = this.#writer.position
    return at + encodedSize(at, size) > limit
  }

  /** The time of the segment's last entry, or -1 when it holds none. */
  get lastTime(): number {
    return this.#next > this.base ? this.#lastTime : -1
  }

  /** Bytes the entries of `sizes` would add, appended in order from the segment's end. */
  bytesFor(sizes: readonly number[]): number {
    return bytesFrom(this.#writer.position, sizes)
  }

  /**
   * Appends one entry at `time`.
   * @returns Its position.
   * @throws {@link AofkitError} what the file's append throws; nothing is appended then.
   */
  append(data: Uint8Array, time: number): number {
    const position = this.#next
    if (time === this.#lastTime) {
      const offset = this.#writer.append(data)
      this.#next = position + 1
      this.#index(position, offset)
      return position
    }
    // A new time: published before the data, for readers; the file's record is kept after it,
    // off the path to them (a failed append leaves #lastTime, so the next one publishes again).
    this.#times.reserve()
    this.#ring.publish(time, position)
    const offset = this.#writer.append(data)
    this.#times.append(time, position)
    this.#lastTime = time
    this.#next = position + 1
    this.#index(position, offset)
    return position
  }

  /**
   * Appends `entries` as one file append: all visible together, or none.
   * @returns The position of the first.
   */
  appendBatch(entries: readonly Uint8Array[], time: number): number {
    const first = this.#next
    if (entries.length === 0) return first
    this.#stamp(time, first)
    const offsets: number[] = []
    this.#sink.begin()
    try {
      for (const entry of entries) offsets.push(this.#writer.append(entry))
      this.#sink.commit()
    } catch (error) {
      this.#sink.abort()
      this.#writer = new LogWriter(this.#sink, { offset: this.file.size })
      throw error
    }
    this.#next = first + entries.length
    offsets.forEach((offset, k) => {
      this.#index(first + k, offset)
    })
    return first
  }

  /**
   * Publishes a time record when the time changed, before the data, so that a reader that sees
   * the entry finds its time in the ring (the time index file gets it later).
   */
  #stamp(time: number, position: number): void {
    if (time === this.#lastTime) return
    this.#times.append(time, position)
    this.#ring.publish(time, position)
    this.#lastTime = time
  }

  /**
   * Writes the time records only the ring holds into the time index file (before a roll, so
   * that only the last segment can have any after a crash).
   * @throws {@link AofkitError} when the write fails.
   */
  flushTimes(): void {
    this.#times.flush()
  }

  /**
   * After each write of time records to the file, which then holds every record the ring held:
   * a ring deleted, replaced or cut under the writer is made again, with the record in force,
   * so that readers opened from then on find the records to come. Failing, it is tried again
   * at the next write; readers take the times from the file meanwhile.
   */
  readonly #keepRing = (): void => {
    const ring = this.#ring
    if (!ring.stale()) return
    try {
      ring.renew()
    } catch {
      return
    }
    if (this.#lastTime >= 0) ring.publish(this.#lastTime, this.#next)
  }

  #index(position: number, offset: number): void {
    if (offset - this.#lastIndexed < OFFSET_INDEX_INTERVAL) return
    this.#offsets.append(position, offset)
    this.#lastIndexed = offset
  }

  /** Makes every entry appended so far, and its time, durable. */
  async sync(): Promise<void> {
    const synced = Promise.all([this.file.sync(), this.#times.sync()])
    // Also when no time record was waiting: a sync repairs a damaged ring (see #keepRing).
    this.#keepRing()
    await synced
  }

  /** Finishes the segment (sealed, read-only, durable) and closes it. */
  async seal(): Promise<void> {
    try {
      // Before the finish: a reader that sees the segment finished finds every time in the file.
      this.#times.flush()
      if (this.file.state === FileState.Opened) await this.file.finish()
      await this.#times.sync()
    } finally {
      await this.close()
    }
  }

  /** Closes the segment without sealing it (a later writer goes on appending to it). */
  async close(): Promise<void> {
    try {
      try {
        this.#times.flush()
      } catch {
        // Left to the ring: the next writer copies it into the time index.
      }
      await this.file.close()
    } finally {
      await Promise.all([this.#offsets.close(), this.#times.close()])
    }
  }
}
