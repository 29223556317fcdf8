/**
 * A consumer's entries in batches: what the journal holds already is taken synchronously,
 * through a reader kept open from one batch to the next, and only at the end does a batch wait,
 * as `follow()` does, for the next entry (then it takes what came with it). `poll()` and a
 * consumer's async iterator read through it: one wait per batch instead of one per entry.
 * @module
 */
import { abortError } from '../errors.ts'
import type { JournalReader } from './journal-reader.ts'
import { readEntries } from './read-entries.ts'
import type { OnTruncated } from './read-entries.ts'
import type { JournalEntry } from './segment-cursor.ts'

function isAborted(signal: AbortSignal | null | undefined): boolean {
  return signal?.aborted === true
}

/** The entries of a journal from a position on, a batch at a time. */
export class EntryBatches {
  readonly #dir: string
  readonly #reader: JournalReader
  readonly #onTruncated: OnTruncated | undefined
  /** The position of the next entry to hand out. */
  #position: number
  /** The synchronous reader, kept between batches; null once it reached the end. */
  #entries: Generator<JournalEntry, void, undefined> | null = null
  #closed = false

  /**
   * @param from - A position between the journal's first and next (the caller checked it).
   */
  constructor(dir: string, reader: JournalReader, from: number, onTruncated: OnTruncated | undefined) {
    this.#dir = dir
    this.#reader = reader
    this.#position = from
    this.#onTruncated = onTruncated
  }

  /** The position of the next entry to hand out. */
  get position(): number {
    return this.#position
  }

  /**
   * Appends to `batch` the entries available now, until it holds `max`.
   * @throws {@link AofkitError} what `read()` throws (ERR_JOURNAL_TRUNCATED…).
   */
  take(batch: JournalEntry[], max: number): void {
    if (this.#closed) return
    let entries = this.#entries
    while (batch.length < max) {
      // At the end last time: a new reader from there sees what was appended since.
      entries ??= readEntries(this.#dir, this.#position, Infinity, this.#onTruncated)
      const step = entries.next()
      if (step.done === true) {
        entries = null
        break
      }
      batch.push(step.value)
      this.#position = step.value.position + 1
    }
    this.#entries = entries
  }

  /**
   * The next batch of at most `max` entries: those available now, or, when there are none, the
   * first to arrive within `waitMs` with those that came with it. Resolves with an empty batch
   * when `waitMs` passes, or when the reader is closed.
   * @throws {@link AofkitError} what `read()` and `follow()` throw; an AbortError when `signal`
   *   aborts.
   */
  async next(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<JournalEntry[]> {
    if (signal?.aborted === true) throw abortError(signal)
    const batch: JournalEntry[] = []
    this.take(batch, max)
    if (batch.length > 0 || waitMs === 0 || this.#closed) return batch
    const timeout = waitMs === Infinity ? null : AbortSignal.timeout(waitMs)
    const signals = [signal, timeout].filter((given): given is AbortSignal => given !== undefined && given !== null)
    const follower = this.#reader.follow({
      from: this.#position,
      ...(signals.length === 0 ? {} : { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) }),
      ...(this.#onTruncated === undefined ? {} : { onTruncated: this.#onTruncated }),
    })
    try {
      const step = await follower.next()
      if (step.done === true) return batch
      batch.push(step.value)
      this.#position = step.value.position + 1
    } catch (error) {
      // Timed out (not aborted by the caller): an empty batch.
      if (isAborted(timeout) && !isAborted(signal)) return batch
      throw error
    } finally {
      await follower.return()
    }
    // The reader kept is at the end: the next one starts after the entry the wait brought.
    this.#entries?.return()
    this.#entries = null
    this.take(batch, max)
    return batch
  }

  /** Closes the reader kept between batches. Idempotent. */
  close(): void {
    this.#closed = true
    this.#entries?.return()
    this.#entries = null
  }
}
