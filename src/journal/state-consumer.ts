/**
 * Exactly-once application of a journal to a state: a durable consumer whose committed position
 * is kept in a {@link StateStore}, in the same durable write as the state change each entry
 * makes ("store the offset with the output"). After a crash the store reopens at some prefix of
 * the updates, holding the position of the last entry it applied, and the consumer resumes at
 * the entry after it: no entry is applied twice or skipped. See docs/FORMAT.md, "A state
 * consumer's log", for what its state log holds.
 * @module
 */
import { checkObject, invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { StateStore } from '../state/state-store.ts'
import type { StateStoreOptions } from '../state/state-store.ts'
import { JournalConsumer } from './consumer.ts'
import { JournalReader } from './journal-reader.ts'
import { checkDirectory, checkJournal } from './layout.ts'
import { nextPosition, resolveFrom } from './positions.ts'
import type { From } from './positions.ts'
import type { OnTruncated } from './read-entries.ts'
import type { JournalEntry } from './segment-cursor.ts'

/** Options of `Journal.openStateConsumer`. */
export interface StateConsumerOptions<T> {
  /** The state log's path (a file of its own, outside the journal's directory or in it). */
  path: string
  /** The state before any entry is applied (or a function returning a fresh one). */
  initial: T | (() => T)
  /**
   * Applies one journal entry to the state and returns the new state (it may mutate and return
   * `state`, a private copy). It must be deterministic: after a restart it gets the same entries
   * again, replayed from the state log, and must make the same state of them.
   */
  apply: (state: T, entry: JournalEntry) => T
  /** Turns the state into bytes (for snapshots). Default: UTF-8 JSON. */
  serialize?: (state: T) => Uint8Array
  /** Turns bytes written by `serialize` back into a state. Default: UTF-8 JSON. */
  deserialize?: (bytes: Uint8Array) => T
  /** Makes the copy of the state that `apply` gets. Default: `structuredClone`. */
  clone?: (state: T) => T
  /** As {@link StateStoreOptions.snapshotEvery}. Default: 1000. */
  snapshotEvery?: number
  /**
   * As {@link StateStoreOptions.sync}. Default `'always'`: each entry's state change and
   * position are durable before the next entry is applied. With `'interval'` or `'none'` a
   * power loss may take the last changes, and their positions with them: the entries are
   * applied again after it, still exactly once in the state that survives.
   */
  sync?: StateStoreOptions<unknown, unknown>['sync']
  /** As {@link StateStoreOptions.compactWhen}. */
  compactWhen?: StateStoreOptions<unknown, unknown>['compactWhen']
  /** Where a consumer that has applied nothing yet starts. Default: `'start'`. */
  from?: From
  /** As in `read()`: skip entries retention deleted instead of throwing ERR_JOURNAL_TRUNCATED. */
  onTruncated?: OnTruncated
  /** Stops the iteration with an AbortError. */
  signal?: AbortSignal
}

/** What a state consumer's iteration yields: an entry applied, durably, and the state after it. */
export interface AppliedEntry<T> {
  /** The position of the entry just applied. */
  readonly position: number
  /** The state after it. */
  readonly state: T
}

/** The state log's state: the application's state and the position of the last entry applied. */
interface Applied<T> {
  position: number
  state: T
}

const STATE_TAG = 0x53 // 'S'
const ENTRY_TAG = 0x45 // 'E'
const HEADER = 17

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function toJson(value: unknown): Uint8Array {
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined) throw new TypeError('JSON cannot represent the state')
  return encoder.encode(text)
}

function isEntry(value: Applied<unknown> | JournalEntry): value is JournalEntry {
  return 'data' in value
}

/** An entry of the state log: a tag, the position (signed) and a time, then the payload. */
function encode(tag: number, position: number, time: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADER + payload.length)
  const view = new DataView(bytes.buffer)
  bytes[0] = tag
  view.setBigInt64(1, BigInt(position), true)
  view.setBigInt64(9, BigInt(time), true)
  bytes.set(payload, HEADER)
  return bytes
}

/**
 * A durable consumer of a journal that applies each entry to a state kept in a
 * {@link StateStore}, exactly once across crashes (see `Journal.openStateConsumer`). Iterate it
 * to apply the entries live; each one is yielded once its state change is durable.
 */
export class StateConsumer<T> implements AsyncIterable<AppliedEntry<T>> {
  /**
   * Opens state consumer `name` of the journal in `dir`, with its state log at
   * `options.path`.
   * @throws {@link AofkitError} what `Journal.openConsumer` and `StateStore.open` throw;
   *   ERR_AOF_INVALID_ARGUMENT for bad options.
   */
  static async open<T>(dir: string, name: string, options: StateConsumerOptions<T>): Promise<StateConsumer<T>> {
    checkDirectory(dir)
    checkObject(options, 'options must be an object')
    if (typeof options.apply !== 'function') throw invalidArgument('apply must be a function')
    for (const key of ['serialize', 'deserialize', 'clone'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'function') throw invalidArgument(`${key} must be a function`)
    }
    checkJournal(dir)
    const serializeState = options.serialize ?? toJson
    const deserializeState = options.deserialize ?? ((bytes: Uint8Array) => JSON.parse(decoder.decode(bytes)) as T)
    const storeOptions: StateStoreOptions<Applied<T>, JournalEntry> = {
      path: options.path,
      initial: () => ({
        position: -1,
        state: typeof options.initial === 'function' ? (options.initial as () => T)() : structuredClone(options.initial),
      }),
      apply: (applied, entry) => ({ position: entry.position, state: options.apply(applied.state, entry) }),
      serialize: (value) =>
        isEntry(value) ? encode(ENTRY_TAG, value.position, value.time, value.data) : encode(STATE_TAG, value.position, 0, serializeState(value.state)),
      deserialize: (bytes) => {
        if (bytes.length < HEADER || (bytes[0] !== STATE_TAG && bytes[0] !== ENTRY_TAG)) throw new TypeError('not an entry of a state consumer\'s log')
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        const position = Number(view.getBigInt64(1, true))
        const payload = bytes.slice(HEADER)
        if (bytes[0] === ENTRY_TAG) return { position, time: Number(view.getBigInt64(9, true)), data: payload } satisfies JournalEntry
        return { position, state: deserializeState(payload) } satisfies Applied<T>
      },
    }
    const clone = options.clone
    if (clone !== undefined) storeOptions.clone = (applied) => ({ position: applied.position, state: clone(applied.state) })
    if (options.snapshotEvery !== undefined) storeOptions.snapshotEvery = options.snapshotEvery
    if (options.sync !== undefined) storeOptions.sync = options.sync
    if (options.compactWhen !== undefined) storeOptions.compactWhen = options.compactWhen
    const store = await StateStore.open(storeOptions)
    try {
      // A new consumer starts at `from`; one that exists resumes after what the store applied,
      // whatever its committed position says (the store is the truth: the commit follows it).
      const from = store.state.position >= 0 ? Math.min(store.state.position + 1, nextPosition(dir)) : resolveFrom(dir, options.from ?? 'start', () => nextPosition(dir))
      const consumer = await JournalConsumer.open(dir, name, { from })
      return new StateConsumer(dir, store, consumer, from, options)
    } catch (error) {
      await store.close()
      throw error
    }
  }

  readonly #dir: string
  readonly #store: StateStore<Applied<T>, JournalEntry>
  readonly #consumer: JournalConsumer
  readonly #reader: JournalReader
  readonly #options: StateConsumerOptions<T>
  /** The next entry to apply. */
  #next: number
  #failure: unknown = null
  /** The latest commit of the consumer's position (commits coalesce: it covers the earlier ones). */
  #committing: Promise<void> = Promise.resolve()
  #closed = false

  private constructor(dir: string, store: StateStore<Applied<T>, JournalEntry>, consumer: JournalConsumer, from: number, options: StateConsumerOptions<T>) {
    this.#dir = dir
    this.#store = store
    this.#consumer = consumer
    this.#options = options
    this.#next = from
    this.#reader = JournalReader.open(dir)
  }

  /** The consumer's name (listed by `Journal.consumers`, holding retention back). */
  get name(): string {
    return this.#consumer.name
  }

  /** The state after the last entry applied. */
  get state(): T {
    return this.#store.state.state
  }

  /** The position of the last entry applied (-1: none yet). */
  get position(): number {
    return this.#store.state.position
  }

  /** Entries in the journal not applied yet. */
  get lag(): number {
    this.#checkOpen()
    return Math.max(0, nextPosition(this.#dir) - this.#next)
  }

  /**
   * Applies every entry appended so far, one durable state change each, and resolves with how
   * many it applied.
   * @throws {@link AofkitError} ERR_JOURNAL_TRUNCATED when the next entry was deleted by
   *   retention (without `onTruncated`); what `StateStore.update` and `apply` throw (the entry
   *   is then not applied, and the next call tries it again).
   */
  async applyAvailable(): Promise<number> {
    this.#checkOpen()
    const end = nextPosition(this.#dir)
    let applied = 0
    const { onTruncated } = this.#options
    for (const entry of this.#reader.read({ from: Math.min(this.#next, end), to: end, ...(onTruncated === undefined ? {} : { onTruncated }) })) {
      await this.#apply(entry)
      applied++
    }
    return applied
  }

  /** Applies the entries live, waiting at the end for more; yields after each one is durable. */
  async *[Symbol.asyncIterator](): AsyncGenerator<AppliedEntry<T>, void, undefined> {
    this.#checkOpen()
    const { signal, onTruncated } = this.#options
    const from = Math.min(this.#next, nextPosition(this.#dir))
    const options = { from, ...(signal === undefined ? {} : { signal }), ...(onTruncated === undefined ? {} : { onTruncated }) }
    for await (const entry of this.#reader.follow(options)) {
      await this.#apply(entry)
      yield { position: entry.position, state: this.#store.state.state }
    }
  }

  /** Stops iterating, waits for writes in flight and closes the store and the consumer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#reader.close()
    try {
      await this.#store.close()
    } finally {
      await this.#committing
      await this.#consumer.close()
    }
  }

  /** Applies one entry: the store's durable update carries its position. */
  async #apply(entry: JournalEntry): Promise<void> {
    this.#checkOpen()
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a failed commit, as it was
    if (this.#failure !== null) throw this.#failure
    await this.#store.update(entry)
    this.#next = entry.position + 1
    // The consumer's own position only follows the store's (for retention and listings); a
    // crash before it is written loses nothing: the next open resumes from the store.
    this.#committing = this.#consumer.commit(entry.position).catch((error: unknown) => {
      this.#failure ??= error
    })
  }

  #checkOpen(): void {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, `state consumer '${this.#consumer.name}' of journal '${this.#dir}' is closed`, { path: this.#dir })
  }
}
