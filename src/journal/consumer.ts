/**
 * Durable consumers: a named reader of a journal whose committed position is stored in the
 * journal's directory, crash-safe, so that after a restart it resumes at the entry after its
 * last commit (at-least-once: never skipping, at most the uncommitted entries again).
 * @module
 */
import { existsSync, mkdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

import { intervalMs, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode, abortError, fromSystemError } from '../errors.ts'
import { PositionWriter, checkConsumerName, consumerLockPath, positionPath, readPosition, writePosition } from './consumer-position.ts'
import { EntryBatches } from './entry-batches.ts'
import { JournalReader } from './journal-reader.ts'
import { CONSUMERS_DIR, checkDirectory, checkJournal } from './layout.ts'
import { lockFile, unlockFile } from './lock-file.ts'
import { nextPosition, resolveFrom } from './positions.ts'
import type { From } from './positions.ts'
import type { OnTruncated } from './read-entries.ts'
import type { JournalEntry } from './segment-cursor.ts'

/** Options of `Journal.openConsumer`. */
export interface ConsumerOptions {
  /**
   * Where a consumer that has never committed starts (its first open records it durably, so a
   * restart before the first commit starts there again). Default: `'start'`.
   */
  from?: From
  /** As in `read()`: skip entries retention deleted instead of throwing ERR_JOURNAL_TRUNCATED. */
  onTruncated?: OnTruncated
  /** Stops the iteration with an AbortError. */
  signal?: AbortSignal
}

/** Options of {@link JournalConsumer.poll}. */
export interface PollOptions {
  /** The most entries one call returns (1 to 1,000,000). Default: 1000. */
  max?: number
  /**
   * How long to wait when no entry is available, in ms: the call then resolves with an empty
   * array. 0 returns at once. Default: wait until an entry arrives.
   */
  waitMs?: number
  /** Ends a wait with an AbortError. */
  signal?: AbortSignal
}

/** Entries a consumer's async iterator takes from the journal at once. */
const ITERATOR_BATCH = 1000
const POLL_MAX_LIMIT = 1_000_000

function checkPollOptions(given: PollOptions | undefined): { max: number; waitMs: number; signal: AbortSignal | undefined } {
  const options = optionsOf(given)
  const max = options.max ?? 1000
  if (!Number.isSafeInteger(max) || max < 1 || max > POLL_MAX_LIMIT) throw invalidArgument(`max must be an integer from 1 to ${POLL_MAX_LIMIT}, got ${String(max)}`)
  const waitMs = options.waitMs === Infinity ? Infinity : intervalMs(options.waitMs, 'waitMs', Infinity, 0)
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgument('signal must be an AbortSignal')
  return { max, waitMs, signal: options.signal }
}

/** The lock of consumer `name` in `dir`: one live instance per name, across processes. */
function lockConsumer(dir: string, name: string): number {
  try {
    mkdirSync(join(dir, CONSUMERS_DIR), { recursive: true })
  } catch (error) {
    throw fromSystemError(error, dir, 'create')
  }
  const path = consumerLockPath(dir, name)
  return lockFile(path, `consumer '${name}' of journal '${dir}' is open already, in this process or another (its lock '${path}' is held)`)
}

/** Checks a position given to commit() or reset(). */
function checkPosition(position: unknown, name: string): asserts position is number {
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < -1) {
    throw invalidArgument(`${name} must be a position (an integer from -1 on), got ${String(position)}`)
  }
}

function beyondEnd(dir: string, position: number, next: number): AofkitError {
  return new AofkitError(ErrorCode.JournalOutOfRange, `position ${position} is beyond the end of journal '${dir}' (next position ${next})`, {
    path: dir,
  })
}

/**
 * A durable consumer of a journal (see `Journal.openConsumer`). Iterate it to get the entries
 * after its committed position, live; call {@link JournalConsumer.commit} once entries are
 * handled.
 */
export class JournalConsumer implements AsyncIterable<JournalEntry> {
  /**
   * Opens consumer `name` of the journal in `dir`, creating it (at `options.from`) when it has
   * no position yet.
   * @throws {@link AofkitError} ERR_AOF_LOCKED when another instance of the consumer is open
   *   (in any process), ERR_AOF_INVALID_ARGUMENT for a name that is not a safe file name,
   *   ERR_JOURNAL_NOT_A_JOURNAL, ERR_AOF_CORRUPTED for a damaged position file.
   */
  static async open(dir: string, name: string, given?: ConsumerOptions): Promise<JournalConsumer> {
    checkDirectory(dir)
    checkConsumerName(name)
    const options = optionsOf(given)
    if (options.onTruncated !== undefined && typeof options.onTruncated !== 'function') throw invalidArgument('onTruncated must be a function')
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgument('signal must be an AbortSignal')
    checkJournal(dir)
    const lock = lockConsumer(dir, name)
    try {
      if (readPosition(dir, name) === null) await writePosition(dir, name, resolveFrom(dir, options.from ?? 'start', () => nextPosition(dir)))
      const positions = new PositionWriter(dir, name)
      try {
        return new JournalConsumer(dir, name, lock, positions, options)
      } catch (error) {
        positions.close()
        throw error
      }
    } catch (error) {
      unlockFile(lock)
      throw error
    }
  }

  readonly #dir: string
  readonly #name: string
  readonly #lock: number
  readonly #positions: PositionWriter
  readonly #reader: JournalReader
  readonly #options: ConsumerOptions
  #committed: number
  #wanted: number
  #writing: Promise<void> | null = null
  /** What poll() reads through, from its first call on. */
  #polled: EntryBatches | null = null
  /** The poll() in flight: calls run one after another. */
  #polling: Promise<unknown> = Promise.resolve()
  /** Every open batch reader (poll()'s and the iterations'), closed with the consumer. */
  readonly #batches = new Set<EntryBatches>()
  /** A next position of the journal seen by a commit: every position below it exists. */
  #knownEnd = 0
  #closed = false

  private constructor(dir: string, name: string, lock: number, positions: PositionWriter, options: ConsumerOptions) {
    this.#dir = dir
    this.#name = name
    this.#lock = lock
    this.#positions = positions
    this.#committed = positions.stored.next - 1
    this.#wanted = this.#committed
    this.#options = options
    this.#reader = JournalReader.open(dir)
  }

  /** The consumer's name. */
  get name(): string {
    return this.#name
  }

  /** The last committed position: every entry up to it is handled (-1: none yet). */
  get committed(): number {
    return this.#committed
  }

  /** Entries after the committed position: the journal's next position minus committed + 1. */
  get lag(): number {
    this.#checkOpen()
    return Math.max(0, nextPosition(this.#dir) - (this.#committed + 1))
  }

  /**
   * The entries after the committed position, live (waiting at the end for more). Each
   * iteration starts after the position committed when it starts: entries delivered but not
   * committed are delivered again. (After a power loss took entries that were not yet durable,
   * the committed position may lie past the journal's end: the iteration then starts at the
   * end, and the new entries at those positions are delivered.) Entries already in the journal
   * are read a batch at a time (see {@link JournalConsumer.poll}), so an iteration that is
   * behind waits for nothing between entries.
   */
  [Symbol.asyncIterator](): AsyncIterator<JournalEntry> {
    this.#checkOpen()
    const { signal } = this.#options
    const batches = this.#openBatches()
    let batch: JournalEntry[] = []
    let at = 0
    const finish = (): Promise<IteratorResult<JournalEntry>> => {
      batches.close()
      this.#batches.delete(batches)
      return Promise.resolve({ value: undefined, done: true })
    }
    const refill = async (): Promise<IteratorResult<JournalEntry>> => {
      try {
        batch = await batches.next(ITERATOR_BATCH, Infinity, signal)
      } catch (error) {
        void finish()
        throw error
      }
      at = 0
      // Empty: the consumer (its reader) was closed.
      if (batch.length === 0) return finish()
      return { value: batch[at++]!, done: false }
    }
    return {
      next: (): Promise<IteratorResult<JournalEntry>> => {
        if (this.#closed) return finish()
        if (signal?.aborted === true) {
          void finish()
          return Promise.reject(abortError(signal))
        }
        if (at < batch.length) return Promise.resolve({ value: batch[at++]!, done: false })
        return refill()
      },
      return: finish,
    }
  }

  /**
   * The next entries, as many as are available up to `options.max` (default 1000): the first
   * call starts after the committed position, each next one after the entries the previous
   * returned (as Kafka's `poll()` and Redis's `XREADGROUP COUNT … BLOCK …`). When none is
   * available it waits for the next (at most `options.waitMs`, then resolves with an empty
   * array). Commit the last position of a batch once it is handled; entries returned but not
   * committed are delivered again after a restart. Calls run one after another. Polling and
   * iterating the consumer are separate: each iteration starts after the committed position.
   * @throws {@link AofkitError} ERR_AOF_CLOSED, ERR_AOF_INVALID_ARGUMENT, ERR_JOURNAL_TRUNCATED
   *   (unless the consumer was opened with `onTruncated`); an AbortError when `options.signal`
   *   or the consumer's `signal` aborts.
   */
  poll(options?: PollOptions): Promise<JournalEntry[]> {
    try {
      this.#checkOpen()
      const { max, waitMs, signal } = checkPollOptions(options)
      const signals = [signal, this.#options.signal].filter((given): given is AbortSignal => given !== undefined)
      const combined = signals.length === 2 ? AbortSignal.any(signals) : signals[0]
      const run = this.#polling.then(() => {
        this.#checkOpen()
        this.#polled ??= this.#openBatches()
        return this.#polled.next(max, waitMs, combined)
      })
      this.#polling = run.catch(() => undefined)
      return run
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** A batch reader from after the committed position (or the end, see the iterator). */
  #openBatches(): EntryBatches {
    // A commit past the end: a power loss cut the journal before entries the consumer had
    // seen (they were visible before they were durable). The entries now at those positions
    // are new: delivered (at least once), not skipped.
    const from = Math.min(this.#committed + 1, nextPosition(this.#dir))
    const batches = new EntryBatches(this.#dir, this.#reader, from, this.#options.onTruncated)
    this.#batches.add(batches)
    return batches
  }

  /**
   * Records that every entry up to `position` is handled, and resolves once that is durable.
   * Concurrent commits share writes; committing a position at or below the committed one does
   * nothing (use `Journal.resetConsumer` to go back).
   * @throws {@link AofkitError} ERR_JOURNAL_OUT_OF_RANGE for a position past the journal's
   *   last entry, ERR_AOF_INVALID_ARGUMENT, ERR_AOF_CLOSED, system codes from the write.
   */
  async commit(position: number): Promise<void> {
    this.#checkOpen()
    checkPosition(position, 'position')
    if (position <= this.#committed) return
    if (position > this.#wanted) {
      // Positions below an end seen once stay valid: the journal's files are read again only
      // for a position past it (reading the last segment's end is far dearer than a commit's
      // bookkeeping, and a consumer commits what it was given).
      if (position >= this.#knownEnd) {
        this.#knownEnd = nextPosition(this.#dir)
        if (position >= this.#knownEnd) throw beyondEnd(this.#dir, position, this.#knownEnd)
      }
      this.#wanted = position
    }
    while (this.#committed < position) {
      if (this.#writing === null) {
        const target = this.#wanted
        // Commits called while this write is in flight wait for it, then share the next one.
        this.#writing = this.#positions
          .write(target + 1)
          .then(() => {
            if (target > this.#committed) this.#committed = target
          })
          .finally(() => {
            this.#writing = null
          })
      }
      await this.#writing
    }
  }

  /**
   * Stops iterating, waits for every commit called before it to be written, and releases the
   * consumer's lock. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const batches of this.#batches) batches.close()
    this.#batches.clear()
    this.#reader.close()
    try {
      // Until no write is left: a commit() waiting behind the write in flight starts the next
      // one when it lands, which must also be done before the lock goes to another instance
      // (or that instance's commits could be overwritten by an older position).
      while (this.#writing !== null) {
        try {
          await this.#writing
        } catch {
          // Reported to the commit() that started it.
        }
      }
    } finally {
      this.#positions.close()
      unlockFile(this.#lock)
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, `consumer '${this.#name}' of journal '${this.#dir}' is closed`, { path: this.#dir })
  }
}

/**
 * Throws ERR_AOF_NOT_FOUND unless consumer `name` has a position file (damaged or not: a damaged
 * one is what a reset or a delete repairs).
 */
function checkExists(dir: string, name: string): void {
  if (!existsSync(positionPath(dir, name))) throw new AofkitError(ErrorCode.NotFound, `journal '${dir}' has no consumer '${name}'`, { path: dir })
}

/**
 * Sets consumer `name`'s committed position to `position` (the next entry it gets is
 * `position + 1`; -1 starts it over at the journal's first), durably. A damaged position file
 * is replaced.
 * @throws {@link AofkitError} ERR_AOF_LOCKED while an instance is open, ERR_AOF_NOT_FOUND for a
 *   consumer that does not exist, ERR_JOURNAL_OUT_OF_RANGE past the end.
 */
export async function resetConsumer(dir: string, name: string, position: number): Promise<void> {
  checkDirectory(dir)
  checkConsumerName(name)
  checkPosition(position, 'position')
  checkJournal(dir)
  const lock = lockConsumer(dir, name)
  try {
    checkExists(dir, name)
    const next = nextPosition(dir)
    if (position >= next) throw beyondEnd(dir, position, next)
    await writePosition(dir, name, position + 1)
  } finally {
    unlockFile(lock)
  }
}

/**
 * Deletes consumer `name`: it no longer holds retention back. A damaged position file is
 * deleted too.
 * @throws {@link AofkitError} ERR_AOF_LOCKED while an instance is open, ERR_AOF_NOT_FOUND for a
 *   consumer that does not exist.
 */
export function deleteConsumer(dir: string, name: string): Promise<void> {
  checkDirectory(dir)
  checkConsumerName(name)
  checkJournal(dir)
  const lock = lockConsumer(dir, name)
  try {
    checkExists(dir, name)
    for (const path of [positionPath(dir, name), `${positionPath(dir, name)}.tmp`, consumerLockPath(dir, name)]) {
      try {
        unlinkSync(path)
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENOENT') throw fromSystemError(error, path, 'rename')
      }
    }
  } finally {
    unlockFile(lock)
  }
  return Promise.resolve()
}
