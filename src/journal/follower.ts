/**
 * Following a journal live (`follow()` of the writer and of a reader): entries as the writer
 * appends them, across segment rolls, and across the writer process stopping and a new one
 * opening the journal.
 *
 * An iterator written out rather than an async generator: the writer's wake-up reads the new
 * entry and resolves the pending `next()` directly, with no promise per wait, no abort listener
 * added and removed per wait, and no generator hops between the wake-up and the consumer (this
 * is the journal's cross-process latency path; docs/PERFORMANCE.md).
 * @module
 */
import { FileState } from '../aof/file-state.ts'
import { DONE, StepIterator } from '../aof/step-iterator.ts'
import type { Step } from '../aof/step-iterator.ts'
import { abortError } from '../errors.ts'
import type { DirectoryWatch } from './directory-watch.ts'
import { openAt, segmentAfter, shortSegment } from './read-entries.ts'
import type { OnTruncated } from './read-entries.ts'
import type { JournalEntry, SegmentCursor } from './segment-cursor.ts'

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
export function followEntries(dir: string, from: number, watch: DirectoryWatch, options: FollowEntriesOptions): AsyncGenerator<JournalEntry, void, undefined> {
  return new JournalFollower(dir, from, watch, options)
}

/** What a follower at the end waits for: its segment's writer, or a change in the directory. */
const WAIT_FILE = 0
const WAIT_DIRECTORY = 1
type Wait = typeof WAIT_FILE | typeof WAIT_DIRECTORY

class JournalFollower extends StepIterator<JournalEntry, Wait> {
  readonly #dir: string
  readonly #watch: DirectoryWatch
  readonly #signal: AbortSignal | undefined
  readonly #onTruncated: OnTruncated | undefined
  readonly #stopped: () => boolean
  /** Position of the next entry to hand over. */
  #position: number
  /** The time of the last entry returned (-1: none yet): the next segment's are not before it. */
  #lastTime = -1
  /**
   * The position where a finished segment last read short of the next one: once more with a
   * fresh reader (one opened while its writer was still creating the file sees no data), then
   * damage.
   */
  #short = -1
  #cursor: SegmentCursor | null = null
  /**
   * The segment's state, failure and the directory's generation, taken before reading to the
   * end: a writer publishes its last entries before it finishes or closes, so reading after
   * this look finds every entry it appended.
   */
  #state: FileState = FileState.Opened
  #failure: Error | null = null
  #generation = 0
  /** The file waited on with resume, if any. */
  #waitingOn: SegmentCursor | null = null

  constructor(dir: string, from: number, watch: DirectoryWatch, options: FollowEntriesOptions) {
    super()
    this.#dir = dir
    this.#position = from
    this.#watch = watch
    this.#signal = options.signal
    this.#onTruncated = options.onTruncated
    this.#stopped = options.stopped
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  /**
   * The next entry, DONE once stopped, or what to wait for: the writer's wake-up, or a change
   * in the directory. Throws what ends following.
   */
  protected step(): Step<JournalEntry> | Wait {
    for (;;) {
      if (this.#stopped()) {
        this.finish()
        return DONE
      }
      const signal = this.#signal
      if (signal?.aborted === true) throw abortError(signal)
      let cursor = this.#cursor
      if (cursor === null) {
        cursor = openAt(this.#dir, this.#position, this.#onTruncated).cursor
        cursor.lastTime = this.#lastTime
        this.#cursor = cursor
        this.#look()
      }
      const entry = cursor.next()
      if (entry !== null) {
        this.#position = entry.position + 1
        this.#lastTime = entry.time
        return { value: entry, done: false }
      }
      const position = cursor.position
      this.#position = position
      if (cursor.end !== Infinity && position >= cursor.end) {
        this.#closeCursor()
        continue
      }
      if (this.#state === FileState.Opened && this.#failure === null) return WAIT_FILE
      // Finished, or its writer gone: a next segment, or a new writer, is in the directory.
      const end = segmentAfter(this.#dir, cursor.base)
      if (end === null) {
        this.#closeCursor()
        continue
      }
      if (end !== undefined) {
        if (position >= end) {
          this.#closeCursor()
          continue
        }
        // Finished and read to its end, yet short of the next segment: damage.
        if (this.#state === FileState.EOF && this.#failure === null) {
          if (this.#short === position) throw shortSegment(this.#dir, cursor, end)
          this.#short = position
          this.#closeCursor()
          continue
        }
      }
      // The segment is opened again after the change, at the position reached.
      this.#closeCursor()
      return WAIT_DIRECTORY
    }
  }

  /** Arranges to be resumed; a pending next() is set. */
  protected wait(wait: Wait): void {
    if (wait === WAIT_FILE) {
      // The writer's wake-up: the same function every time, so waiting allocates nothing.
      const cursor = this.#cursor!
      this.#waitingOn = cursor
      cursor.file.onNextChange(this.resume)
    } else {
      // Rare (a writer gone): a promise per wait is fine here.
      this.#watch.changedSince(this.#generation, this.#signal).then(this.resume, this.#onWaitFailed)
    }
  }

  /** Takes the state, failure and directory generation that the next read to the end acts on. */
  #look(): void {
    const file = this.#cursor!.file
    this.#generation = this.#watch.generation
    this.#state = file.state
    this.#failure = file.failure
  }

  /** The file or the directory changed (or may have): what the next step reads to the end acts on. */
  protected override woke(): void {
    this.#waitingOn = null
    if (this.waiting && this.#cursor !== null) this.#look()
  }

  /** A directory wait rejected (its signal aborted): as an abort. */
  readonly #onWaitFailed = (error: unknown): void => {
    this.stopWith(this.#stopped() ? DONE : null, error)
  }

  readonly #onAbort = (): void => {
    // Closing the journal or reader aborts its followers' signal: they then return.
    this.stopWith(this.#stopped() ? DONE : null, abortError(this.#signal!))
  }

  #closeCursor(): void {
    const cursor = this.#cursor
    if (cursor === null) return
    this.#cursor = null
    if (this.#waitingOn === cursor) {
      this.#waitingOn = null
      cursor.file.cancelOnNextChange(this.resume)
    }
    cursor.close()
  }

  protected release(): void {
    this.#closeCursor()
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }
}
