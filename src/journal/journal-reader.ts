/**
 * A reader of a journal, in any thread or process: reads and follows what the writer appends,
 * across segment rolls, and across the writer process stopping and a new one opening the
 * journal later.
 * @module
 */
import { AofkitError, ErrorCode } from '../errors.ts'
import { DirectoryWatch } from './directory-watch.ts'
import { checkReadOptions } from './read-options.ts'
import type { FollowOptions, ReadOptions } from './read-options.ts'
import { checkDirectory, checkJournal } from './layout.ts'
import { firstPosition, nextPosition, resolveFrom } from './positions.ts'
import { followEntries } from './follower.ts'
import { readEntries } from './read-entries.ts'
import type { JournalEntry } from './segment-cursor.ts'

/** A read-only view of a journal (see `Journal.openReader`). */
export class JournalReader {
  /**
   * Opens a reader of the journal in `dir`. It takes no lock and needs no writer.
   * @throws {@link AofkitError} ERR_JOURNAL_NOT_A_JOURNAL, ERR_AOF_NOT_FOUND,
   *   ERR_AOF_INVALID_ARGUMENT.
   */
  static open(dir: string): JournalReader {
    checkDirectory(dir)
    checkJournal(dir)
    return new JournalReader(dir)
  }

  readonly #dir: string
  #watch: DirectoryWatch | null = null
  #closed = false

  private constructor(dir: string) {
    this.#dir = dir
  }

  /** The journal's directory. */
  get dir(): string {
    return this.#dir
  }

  /** Position of the oldest entry kept, from the directory as it is now. */
  get firstPosition(): number {
    this.#checkOpen()
    return firstPosition(this.#dir)
  }

  /** Position the writer's next entry will get, from the files as they are now. */
  get nextPosition(): number {
    this.#checkOpen()
    return nextPosition(this.#dir)
  }

  /** The entries from `from` up to `to` or the end (see `Journal.read`). */
  read(options?: ReadOptions): Generator<JournalEntry, void, undefined> {
    this.#checkOpen()
    const checked = checkReadOptions(options)
    const from = resolveFrom(this.#dir, checked.from, () => nextPosition(this.#dir))
    return readEntries(this.#dir, from, checked.to ?? Infinity, checked.onTruncated)
  }

  /**
   * Follows the journal live (see `Journal.follow`): waits for the writer at the end, goes on
   * across rolls, and, while no writer has the journal open, waits for the next one (watching
   * the directory, not polling it). Ends with an AbortError when `signal` aborts, and returns
   * when the reader is closed.
   */
  follow(options?: FollowOptions): AsyncGenerator<JournalEntry, void, undefined> {
    this.#checkOpen()
    const checked = checkReadOptions(options)
    const from = resolveFrom(this.#dir, checked.from, () => nextPosition(this.#dir))
    this.#watch ??= new DirectoryWatch(this.#dir)
    return followEntries(this.#dir, from, this.#watch, {
      signal: checked.signal === undefined ? this.#watch.closed : AbortSignal.any([checked.signal, this.#watch.closed]),
      onTruncated: checked.onTruncated,
      stopped: () => this.#closed,
    })
  }

  /** Closes the reader: followers end after their current wait. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#watch?.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, `reader of journal '${this.#dir}' is closed`, { path: this.#dir })
  }
}
