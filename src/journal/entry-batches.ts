/**
 * A consumer's entries in batches: what the journal holds already is taken synchronously,
 * through a reader kept open from one batch to the next, and only at the end does a batch wait,
 * as `follow()` does, for the next entry (then it takes what came with it). `poll()` and a
 * consumer's async iterator read through it: one wait per batch instead of one per entry.
 * @module
 */
import { abortError } from '../errors.ts'
import type { JournalReader } from './journal-reader.ts'
import { EntryReader } from './read-entries.ts'
import type { OnTruncated } from './read-entries.ts'
import type { JournalEntry } from './segment-cursor.ts'

function isAborted(signal: AbortSignal | null | undefined): boolean {
  return signal?.aborted === true
}

/** The entries of a journal from a position on, a batch at a time. */
export class EntryBatches {
  readonly #reader: JournalReader
  readonly #onTruncated: OnTruncated | undefined
  /** The synchronous reader, kept between batches (at the end too: it goes on from there). */
  readonly #entries: EntryReader
  #closed = false
  /** Aborts a wait in flight when closed. */
  readonly #closing = new AbortController()

  /**
   * @param from - A position between the journal's first and next (the caller checked it).
   */
  constructor(dir: string, reader: JournalReader, from: number, onTruncated: OnTruncated | undefined) {
    this.#reader = reader
    this.#onTruncated = onTruncated
    this.#entries = new EntryReader(dir, from, Infinity, onTruncated)
  }

  /** The position of the next entry to hand out. */
  get position(): number {
    return this.#entries.position
  }

  /**
   * Appends to `batch` the entries available now, until it holds `max`.
   * @throws {@link AofkitError} what `read()` throws (ERR_JOURNAL_TRUNCATED…).
   */
  take(batch: JournalEntry[], max: number): void {
    if (this.#closed) return
    const entries = this.#entries
    while (batch.length < max) {
      const entry = entries.next()
      if (entry === null) break
      batch.push(entry)
    }
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
    const signals = [signal, timeout, this.#closing.signal].filter((given): given is AbortSignal => given !== undefined && given !== null)
    const waitSignal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals)
    while (batch.length === 0) {
      // At the end of a segment its writer still appends to: its next commit.
      const changed = this.#entries.changed(waitSignal)
      if (changed !== null) {
        try {
          await changed
        } catch (error) {
          // Closed, or timed out (not aborted by the caller): an empty batch.
          if (this.#closed || (isAborted(timeout) && !isAborted(signal))) return batch
          throw error
        }
        if (this.#closed) return batch
        this.take(batch, max)
        continue
      }
      // Else wait as follow() does (a roll, a writer gone and a new one) for an entry at the
      // position reached; the reader kept then takes it and what came with it.
      const follower = this.#reader.follow({
        from: this.position,
        signal: waitSignal,
        ...(this.#onTruncated === undefined ? {} : { onTruncated: this.#onTruncated }),
      })
      try {
        // Done: the reader (the consumer) was closed.
        if ((await follower.next()).done === true) return batch
      } catch (error) {
        // Closed, or timed out (not aborted by the caller): an empty batch.
        if (this.#closed || (isAborted(timeout) && !isAborted(signal))) return batch
        throw error
      } finally {
        await follower.return()
      }
      this.take(batch, max)
    }
    return batch
  }

  /** Closes the reader kept between batches. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#closing.abort()
    this.#entries.close()
  }
}
