/**
 * The journal: a log that grows forever, as a directory of segments (each an AppendOnlyFile
 * holding a record log), with dense positions, sparse offset and time indexes, retention and
 * durable consumers. See docs/FORMAT.md, "The journal", for its files.
 * @module
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

import { FileState } from '../aof/file-state.ts'
import { checkBytes, invalidArgument, quickLength } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { syncDirectory } from '../io/durable.ts'
import { DirectoryWatch } from './directory-watch.ts'
import { GroupCommit } from './group-commit.ts'
import { CONSUMERS_DIR, MARKER_NAME, WRITER_LOCK_NAME, checkDirectory, checkJournal, listSegments, notAJournal, writeMarker } from './layout.ts'
import { lockFile, unlockFile } from './lock-file.ts'
import { checkOptions } from './options.ts'
import type { CheckedOptions, JournalOptions } from './options.ts'
import { resolveFrom } from './positions.ts'
import { recoverSegments } from './recovery.ts'
import { followEntries } from './follower.ts'
import { readEntries } from './read-entries.ts'
import { JournalConsumer, deleteConsumer, resetConsumer } from './consumer.ts'
import type { ConsumerOptions } from './consumer.ts'
import { listConsumers } from './consumer-list.ts'
import type { ConsumerInfo } from './consumer-list.ts'
import { JournalReader } from './journal-reader.ts'
import { checkReadOptions } from './read-options.ts'
import type { FollowOptions, ReadOptions } from './read-options.ts'
import { applyRetention } from './retention.ts'
import { StateConsumer } from './state-consumer.ts'
import type { StateConsumerOptions } from './state-consumer.ts'
import type { RetentionReport } from './retention.ts'
import type { JournalEntry } from './segment-cursor.ts'
import { SegmentWriter, bytesFrom, segmentSizeUpper } from './segment-writer.ts'
import { TimeRing } from './time-ring.ts'
import { lastTimeBefore, timesBefore } from './lost-times.ts'

/**
 * Refuses what cannot be an entry: anything but a Uint8Array, and an empty one (the record log
 * writes no record for it, so readers would not see it and every later position would name
 * the entry after it).
 */
function checkEntry(data: unknown, name: string): asserts data is Uint8Array {
  checkBytes(data, name)
  if (data.length === 0) throw invalidArgument(`${name} is empty: a journal entry holds at least one byte`)
}

/**
 * Creates the journal directory if asked, refuses a directory that is not a journal.
 * @throws {@link AofkitError} ERR_AOF_NOT_FOUND, ERR_JOURNAL_NOT_A_JOURNAL.
 */
async function prepareDirectory(dir: string, create: boolean): Promise<void> {
  if (create) {
    try {
      mkdirSync(dir, { recursive: true })
    } catch (error) {
      throw fromSystemError(error, dir, 'create')
    }
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (error) {
      throw fromSystemError(error, dir, 'read')
    }
    if (!names.includes(MARKER_NAME)) {
      if (names.length > 0) throw notAJournal(dir, 'it holds other files; a new journal needs an empty directory')
      await writeMarker(dir)
    }
  }
  checkJournal(dir)
}

/**
 * A journal open for appending. One writer per journal: a second, in this process or another,
 * gets ERR_AOF_LOCKED. Any number of readers (`Journal.openReader`) and consumers
 * (`Journal.openConsumer`) follow it from any thread or process.
 *
 * Entries are appended synchronously and are visible to readers at once; `sync()` makes them
 * durable. Each entry gets a position, 0, 1, 2, … across all segments; positions are never
 * reused or renumbered, not even when retention deletes old segments.
 */
export class Journal {
  /**
   * Opens a reader of the journal in `dir`, for any thread or process: `read()` and
   * `follow()`, no lock, no writer needed.
   * @throws {@link AofkitError} ERR_JOURNAL_NOT_A_JOURNAL, ERR_AOF_NOT_FOUND.
   */
  static openReader(dir: string): Promise<JournalReader> {
    return Promise.resolve().then(() => JournalReader.open(dir))
  }

  /**
   * Opens durable consumer `name` of the journal in `dir` (any process): iterate it for the
   * entries after its committed position, and `commit(position)` once they are handled. A new
   * consumer starts at `options.from` (default `'start'`) and holds retention back from there.
   * @throws {@link AofkitError} ERR_AOF_LOCKED when an instance of the same consumer is open,
   *   ERR_AOF_INVALID_ARGUMENT for a name that is not a safe file name,
   *   ERR_JOURNAL_NOT_A_JOURNAL, ERR_AOF_CORRUPTED for a damaged position file.
   */
  static openConsumer(dir: string, name: string, options?: ConsumerOptions): Promise<JournalConsumer> {
    return JournalConsumer.open(dir, name, options)
  }

  /**
   * Opens state consumer `name` of the journal in `dir`: a durable consumer that applies each
   * entry to a state kept in a state log at `options.path`, exactly once across crashes. The
   * position of each entry applied is written with its state change, in one durable write; on
   * open the consumer resumes after the position its state holds (its committed position, as
   * `Journal.consumers` lists it, follows). Iterate it, or call `applyAvailable()`.
   * @throws {@link AofkitError} what `openConsumer` and `StateStore.open` throw.
   */
  static openStateConsumer<T>(dir: string, name: string, options: StateConsumerOptions<T>): Promise<StateConsumer<T>> {
    return StateConsumer.open(dir, name, options)
  }

  /**
   * Lists the consumers of the journal in `dir`: committed position, lag in entries and bytes,
   * whether an instance is open, whether it held back the writer's last retention run.
   */
  static consumers(dir: string): Promise<ConsumerInfo[]> {
    return Promise.resolve().then(() => listConsumers(dir))
  }

  /**
   * Sets consumer `name`'s committed position (it next gets `position + 1`), durably. No
   * instance of it may be open.
   * @throws {@link AofkitError} ERR_AOF_LOCKED, ERR_AOF_NOT_FOUND, ERR_JOURNAL_OUT_OF_RANGE.
   */
  static resetConsumer(dir: string, name: string, position: number): Promise<void> {
    return resetConsumer(dir, name, position)
  }

  /**
   * Deletes consumer `name` (it no longer holds retention back). No instance of it may be open.
   * @throws {@link AofkitError} ERR_AOF_LOCKED, ERR_AOF_NOT_FOUND.
   */
  static deleteConsumer(dir: string, name: string): Promise<void> {
    return Promise.resolve().then(() => deleteConsumer(dir, name))
  }

  /**
   * Opens (with `create`, creates) the journal in `dir`, recovering from a crash: the open
   * segment's entries are counted from its offset index, index records the data does not back
   * are dropped, a segment left unfinished by a roll is finished.
   * @throws {@link AofkitError} ERR_AOF_LOCKED when another writer holds the journal,
   *   ERR_JOURNAL_NOT_A_JOURNAL for a directory that is not one, ERR_AOF_NOT_FOUND when it is
   *   missing and `create` is not set, ERR_AOF_INVALID_ARGUMENT for bad options.
   */
  static async open(dir: string, options?: JournalOptions): Promise<Journal> {
    checkDirectory(dir)
    const checked = checkOptions(options)
    await prepareDirectory(dir, checked.create)
    const lockPath = join(dir, WRITER_LOCK_NAME)
    // Read before this open rewrites the lock file.
    const before = timesBefore(dir, true)
    const lock = lockFile(lockPath, `journal '${dir}' has a writer already, in this process or another (its lock '${lockPath}' is held)`)
    let ring: TimeRing | null = null
    try {
      mkdirSync(join(dir, CONSUMERS_DIR), { recursive: true })
      const bases = listSegments(dir)
      await recoverSegments(dir, bases)
      ring = TimeRing.openWriter(dir)
      let segment: SegmentWriter
      if (bases.length === 0) {
        segment = new SegmentWriter(dir, 0, true, ring)
        bases.push(0)
        await syncDirectory(dir)
      } else {
        segment = new SegmentWriter(dir, bases.at(-1)!, false, ring, { timesBefore: before, lastBefore: () => lastTimeBefore(dir, bases, bases.at(-1)!) })
      }
      const journal = new Journal(dir, checked, lock, ring, segment, bases)
      // Times never go back, across writers too: a clock set back since the last writer (a
      // reboot, a clock corrected) goes on from the journal's last time.
      journal.#lastTime = lastTimeOf(dir, bases, segment)
      // A finished segment (closed by a roll that did not get further) or one with damage in it
      // takes no more entries: the journal goes on in a new one.
      if (segment.file.state !== FileState.Opened || segment.damage !== null) journal.#roll()
      journal.#startTimer()
      return journal
    } catch (error) {
      ring?.close()
      unlockFile(lock)
      throw error
    }
  }

  readonly #dir: string
  readonly #options: CheckedOptions
  readonly #lock: number
  /** Where the segments publish their time records for readers (see time-ring.ts). */
  readonly #ring: TimeRing
  #segment: SegmentWriter
  /** First positions of the segments, oldest first; the last is #segment's. */
  readonly #bases: number[]
  readonly #sealing = new Set<Promise<void>>()
  #sealFailure: unknown = null
  #directoryDirty = false
  #lastTime = -1
  #closed = false
  #closing: Promise<void> | null = null
  readonly #groupCommit: GroupCommit
  #timer: NodeJS.Timeout | null = null
  #watch: DirectoryWatch | null = null
  #retention: RetentionReport = { heldBy: [], deletedSegments: 0, deletedEntries: 0 }

  private constructor(dir: string, options: CheckedOptions, lock: number, ring: TimeRing, segment: SegmentWriter, bases: number[]) {
    this.#dir = dir
    this.#options = options
    this.#lock = lock
    this.#ring = ring
    this.#segment = segment
    this.#bases = bases
    this.#groupCommit = new GroupCommit(() => this.#syncNow())
  }

  /** The journal's directory. */
  get dir(): string {
    return this.#dir
  }

  /** Position of the oldest entry kept (entries available: [firstPosition, nextPosition)). */
  get firstPosition(): number {
    return this.#bases[0]!
  }

  /** Position the next appended entry will get. */
  get nextPosition(): number {
    return this.#segment.next
  }

  /** Segments in the journal, the open one included. */
  get segmentCount(): number {
    return this.#bases.length
  }

  /** What retention did and who holds it back (consumers that have not committed old entries). */
  get retention(): RetentionReport {
    return this.#retention
  }

  /**
   * Appends one entry, visible to readers at once (durable after `sync()`). Its time (see
   * {@link JournalEntry.time}) is the clock read by this call: every append reads it.
   * @param data - The entry's bytes (copied; at least one: the record log has no record for an
   *   empty entry, so a reader could not count it).
   * @returns The entry's position.
   * @throws {@link AofkitError} ERR_AOF_CLOSED after close(), ERR_AOF_INVALID_ARGUMENT for data
   *   that is not a Uint8Array or is empty, ERR_AOF_NO_SPACE on a full disk; nothing is appended
   *   then.
   */
  append(data: Uint8Array): number {
    this.#checkOpen()
    // Exactly (checkEntry) only when the quick check fails, as LogWriter.append does: what
    // passes without being bytes (a Proxy) is refused by the record log's fill, with nothing
    // written.
    if (quickLength(data) <= 0) checkEntry(data, 'data')
    const time = this.#now()
    // One entry: no list of sizes (an array per append was most of a burst's garbage).
    const segment = this.#segment
    if (segment.next !== segment.base && (time - segment.firstTime >= this.#options.segmentMs || segment.wouldExceed(data.length, this.#options.segmentBytes))) {
      // Exactly before a roll: what cannot be written must not leave a new, empty segment.
      checkEntry(data, 'data')
      this.#roll(bytesFrom(0, [data.length]))
    }
    return this.#segment.append(data, time)
  }

  /**
   * Appends several entries atomically: readers see all of them at once or none, and a crash
   * of the process at any instant keeps all or none (they land as one append of the segment
   * file). They are durable together once `sync()` resolves; see docs/FORMAT.md for what a
   * power loss before that can keep. They share one time, the clock read by this call.
   * @param entries - The entries' bytes, in order (each at least one byte, as for `append`).
   * @returns The position of the first entry (the others follow it; for an empty list, the
   *   next position).
   * @throws {@link AofkitError} as `append`; a list with one bad entry appends none.
   */
  appendBatch(entries: readonly Uint8Array[]): number {
    this.#checkOpen()
    // Through a wider type: Array.isArray would narrow entries itself to any[].
    const given: unknown = entries
    if (!Array.isArray(given)) throw invalidArgument('entries must be an array of Uint8Arrays')
    entries.forEach((entry, k) => {
      checkEntry(entry, `entries[${k}]`)
    })
    if (entries.length === 0) return this.nextPosition
    const time = this.#now()
    this.#rollIfNeeded(
      entries.map((entry) => entry.length),
      time,
    )
    return this.#segment.appendBatch(entries, time)
  }

  /**
   * Appends one entry and resolves with its position once it is durable; concurrent calls share
   * one fdatasync (group commit).
   */
  async appendDurable(data: Uint8Array): Promise<number> {
    const position = this.append(data)
    await this.sync()
    return position
  }

  /**
   * Resolves once every entry appended before the call is durable (survives power loss).
   * Concurrent callers share one fdatasync.
   * @throws {@link AofkitError} ERR_AOF_CLOSED after close(), ERR_AOF_IO from fdatasync, or the
   *   failure of finishing a segment at a roll.
   */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError())
    return this.#groupCommit.request()
  }

  /**
   * The entries from `from` up to `to` (or the end), synchronously.
   * @throws {@link AofkitError} ERR_JOURNAL_TRUNCATED (a {@link JournalTruncatedError}) when
   *   the entry at `from` was deleted by retention and `onTruncated` is not given;
   *   ERR_JOURNAL_OUT_OF_RANGE for a position past the end; ERR_AOF_INVALID_ARGUMENT.
   */
  read(options?: ReadOptions): Generator<JournalEntry, void, undefined> {
    this.#checkOpen()
    const checked = checkReadOptions(options)
    const from = resolveFrom(this.#dir, checked.from, () => this.nextPosition)
    return readEntries(this.#dir, from, checked.to ?? Infinity, checked.onTruncated)
  }

  /**
   * Follows the journal live from `from`: yields every entry, waits for more at the end, and
   * goes on across segment rolls. Ends with an AbortError when `signal` aborts, or when the
   * journal is closed.
   */
  follow(options?: FollowOptions): AsyncGenerator<JournalEntry, void, undefined> {
    this.#checkOpen()
    const checked = checkReadOptions(options)
    const from = resolveFrom(this.#dir, checked.from, () => this.nextPosition)
    this.#watch ??= new DirectoryWatch(this.#dir)
    return followEntries(this.#dir, from, this.#watch, {
      signal: checked.signal === undefined ? this.#watch.closed : AbortSignal.any([checked.signal, this.#watch.closed]),
      onTruncated: checked.onTruncated,
      stopped: () => this.#closed,
    })
  }

  /**
   * Closes the journal: waits for syncs and segment finishes in flight, closes the open segment
   * (not finished: the next writer appends to it) and releases the writer's lock. It does not
   * sync. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#watch?.close()
    if (this.#timer !== null) clearInterval(this.#timer)
    await this.#groupCommit.idle()
    await Promise.all(this.#sealing)
    try {
      await this.#segment.close()
    } finally {
      this.#ring.close()
      unlockFile(this.#lock)
    }
  }

  /**
   * The append time: the clock, never going back. Read at every append (about 40 ns of a
   * 100 B append's 250): a reading kept for later appends, even within one event-loop turn,
   * would give an entry appended after a pause an earlier time than the caller saw before the
   * call (docs/PERFORMANCE.md, "The journal's append").
   */
  #now(): number {
    const now = Date.now()
    this.#lastTime = now > this.#lastTime ? now : this.#lastTime
    return this.#lastTime
  }

  #rollIfNeeded(sizes: readonly number[], time: number): void {
    const segment = this.#segment
    if (segment.next === segment.base) return
    const tooBig = segment.position + segment.bytesFor(sizes) > this.#options.segmentBytes
    const tooOld = time - segment.firstTime >= this.#options.segmentMs
    if (tooBig || tooOld) this.#roll(bytesFrom(0, sizes))
  }

  /**
   * Starts the next segment and finishes the current one in the background. The new segment
   * exists before the old one is finished, so a reader that sees the old one finished finds
   * the next.
   * @param firstBytes - What the append that rolls needs: the new segment is sized for it and
   *   for the appends that fit in `segmentBytes` after it. Without it (a roll with no append:
   *   by age, or at open), the new segment may take an entry of any size.
   */
  #roll(firstBytes?: number): void {
    const old = this.#segment
    const base = old.next
    const sizeUpper = firstBytes === undefined ? undefined : segmentSizeUpper(this.#options.segmentBytes, firstBytes)
    // The old segment's times into its file first: after a crash, only the last segment's can
    // be left in the ring alone.
    old.flushTimes()
    this.#segment = new SegmentWriter(this.#dir, base, true, this.#ring, { sizeUpper })
    this.#bases.push(base)
    this.#directoryDirty = true
    const sealing = old.seal().then(
      () => {
        this.#sealing.delete(sealing)
        this.#retain()
      },
      (error: unknown) => {
        this.#sealing.delete(sealing)
        this.#sealFailure ??= error
      },
    )
    this.#sealing.add(sealing)
  }

  /** One group-commit run: the open segment, segments being finished, the directory. */
  async #syncNow(): Promise<void> {
    const segment = this.#segment
    const sealing = [...this.#sealing]
    const directoryDirty = this.#directoryDirty
    this.#directoryDirty = false
    try {
      await Promise.all([segment.sync(), ...sealing])
      if (this.#sealFailure !== null) {
        const failure = this.#sealFailure
        this.#sealFailure = null
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the sealing's failure, as it was
        throw failure
      }
      if (directoryDirty) await syncDirectory(this.#dir)
    } catch (error) {
      if (directoryDirty) this.#directoryDirty = true
      throw error
    }
  }

  /** Runs retention over the finished segments. */
  #retain(): void {
    if (this.#closed) return
    try {
      this.#retention = applyRetention(this.#dir, this.#bases, this.#options.retention, this.#retention, this.#segment.size)
    } catch {
      // A file that cannot be removed now is tried again at the next roll or tick.
    }
  }

  /** Rolls by age and runs retention by age, for a journal that gets no appends. */
  #startTimer(): void {
    const { segmentMs, retention } = this.#options
    const period = Math.min(segmentMs, retention.maxAgeMs, retention.hardMaxAgeMs)
    if (period === Infinity) {
      this.#retain()
      return
    }
    this.#timer = setInterval(
      () => {
        if (this.#closed) return
        const segment = this.#segment
        if (segment.next > segment.base && this.#now() - segment.firstTime >= segmentMs) {
          try {
            this.#roll()
          } catch {
            // The next append rolls, or reports why it cannot.
          }
        } else {
          this.#retain()
        }
      },
      Math.max(10, Math.min(period / 4, 60_000)),
    )
    this.#timer.unref()
    this.#retain()
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#closedError()
  }

  #closedError(): AofkitError {
    return new AofkitError(ErrorCode.Closed, `journal '${this.#dir}' is closed`, { path: this.#dir })
  }
}

/** The time of the journal's last entry, from its newest segment that holds one; -1 for none. */
function lastTimeOf(dir: string, bases: readonly number[], segment: SegmentWriter): number {
  return segment.lastTime >= 0 ? segment.lastTime : lastTimeBefore(dir, bases, bases.at(-1)!)
}
