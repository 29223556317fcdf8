/**
 * A small typed store on top of the state log: the application's state `T` is restored from
 * the latest snapshot by replaying the epoch's updates through `apply`, and every update is
 * applied and then logged. JSON by default; any serializer can be plugged in.
 * @module
 */
import type { OpenOptions } from '../aof/open-file.ts'
import { checkObject, invalidArgument, invalidBytes, isBytes } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import type { CompactResult } from './compaction.ts'
import type { TailCut } from './recover.ts'
import { StateWriter } from './state-writer.ts'
import type { CompactPolicy, StateWriterOptions, SyncMode } from './state-writer.ts'

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions<T, U> {
  /** The state log's path. */
  path: string
  /** The state of an empty log (or a function returning a fresh one). */
  initial: T | (() => T)
  /**
   * Applies an update to a state and returns the new state (it may mutate and return `state`,
   * which is the store's private copy; it must not return `undefined`). It gets the update as
   * `deserialize(serialize(update))`, the value a replay after a restart gets: with JSON, a
   * `Date` arrives as its string, live as on replay.
   */
  apply: (state: T, update: U) => T
  /** Turns a state or an update into bytes. Default: UTF-8 JSON. */
  serialize?: (value: T | U) => Uint8Array
  /** Turns bytes written by `serialize` back into a state or an update. Default: UTF-8 JSON. */
  deserialize?: (bytes: Uint8Array) => unknown
  /**
   * Makes the copy of the state that `apply` gets, so that an `apply` that throws changes
   * nothing. Default: `structuredClone` (or, for a state it cannot clone, a round trip through
   * `serialize` and `deserialize`).
   */
  clone?: (state: T) => T
  /** Write a snapshot after this many updates (0: never by itself). Default: 1000. */
  snapshotEvery?: number
  /** Durability (see {@link SyncMode}). Default: `'always'`. */
  sync?: SyncMode
  /** Interval of the background sync in `'interval'` mode, in ms. Default: 100. */
  syncIntervalMs?: number
  /**
   * Automatic compaction (see {@link CompactPolicy}). Default: never for a plain file; for a
   * log in an AppendOnlyFile, whose size is capped by its `sizeUpper`, `{ ratio: 2, sizeMin }`
   * with `sizeMin` a quarter of `sizeUpper` (at most 1 MiB), so that the log does not fill up.
   */
  compactWhen?: CompactPolicy
  /** Cut a torn tail on open (see {@link StateWriterOptions.repair}). Default: true. */
  repair?: boolean
  /**
   * Keep the log in an AppendOnlyFile (see {@link StateWriterOptions.appendOnlyFile}).
   * Default: a plain file (a path that holds an AppendOnlyFile is opened as one).
   */
  appendOnlyFile?: OpenOptions | boolean
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function toJson(value: unknown): Uint8Array {
  const text = JSON.stringify(value) as string | undefined
  if (text === undefined) throw new TypeError(`JSON cannot represent ${typeof value === 'symbol' ? 'a symbol' : String(value)}`)
  return encoder.encode(text)
}

function fromJson(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes))
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * The error for an entry of the log the application cannot take back: `deserialize` or `apply`
 * failed on it while the store opened. Its `offset` names the entry.
 */
function entryRejected(path: string, offset: number, what: 'snapshot' | 'update', error: unknown): AofkitError {
  const rejected = new AofkitError(
    ErrorCode.StateEntryRejected,
    `state log '${path}': the ${what} at offset ${offset} cannot be restored (${messageOf(error)}); ` +
      `the log is unchanged: fix deserialize or apply, or salvage the log with \`aof salvage ${path} --skip ${offset}\``,
    { path, cause: error },
  )
  Object.defineProperty(rejected, 'offset', { value: offset, enumerable: true })
  return rejected
}

/**
 * An application state kept in a state log. Open it with {@link StateStore.open}; read
 * {@link StateStore.state}; change it with {@link StateStore.update}.
 *
 * `update(u)` first checks that `u` survives `serialize` then `deserialize` (what cannot be
 * read back is refused with ERR_AOF_INVALID_ARGUMENT and never logged), computes
 * `apply(copy of state, deserialize(serialize(u)))` (nothing changes and nothing is logged if it
 * throws), makes the result the current state at once, appends the update, and resolves once it
 * is durable (with `sync: 'always'`). So after a crash the store reopens to the state after some
 * prefix of the updates called, including every one whose promise resolved, and a replay gives
 * `apply` the values it got live. Once a write fails, the state in memory may be ahead of the
 * log: the store then refuses further updates with that error; reopen it to continue from the
 * log.
 */
export class StateStore<T, U = unknown> {
  readonly #writer: StateWriter
  readonly #apply: (state: T, update: U) => T
  readonly #serialize: (value: T | U) => Uint8Array
  readonly #deserialize: (bytes: Uint8Array) => unknown
  readonly #clone: ((state: T) => T) | null
  readonly #snapshotEvery: number
  readonly #replayed: number
  #state: T
  #sinceSnapshot: number
  /** Bytes of updates after which a snapshot is due (see open), or `null`. */
  readonly #guard: number | null
  /** Bytes of the updates logged since the latest snapshot. */
  #updateBytes: number
  /** Set once a write failed or the store closed: the state may be ahead of the log. */
  #failure: unknown = null

  private constructor(
    writer: StateWriter,
    options: StateStoreOptions<T, U>,
    snapshotEvery: number,
    state: T,
    replayed: number,
    guard: number | null,
  ) {
    this.#guard = guard
    // Not known exactly after a restore: what lies after the latest snapshot's start.
    this.#updateBytes = writer.size - writer.epoch
    this.#writer = writer
    this.#apply = options.apply
    this.#serialize = options.serialize ?? toJson
    this.#deserialize = options.deserialize ?? fromJson
    this.#clone = options.clone ?? null
    this.#snapshotEvery = snapshotEvery
    this.#state = state
    this.#replayed = replayed
    this.#sinceSnapshot = replayed
  }

  /**
   * Opens (creating if needed) the store at `options.path`: restores the latest snapshot,
   * replays the epoch's updates through `apply`, and cuts a torn tail a crash left (see
   * {@link StateStore.cut}).
   * @param options - Path, initial state, apply, serializers, snapshot interval, durability.
   * @returns The open store.
   * @throws {@link AofkitError} what {@link StateWriter.open} throws; ERR_STATE_CORRUPT and the
   *   record log's codes when an update of the epoch cannot be read; ERR_STATE_ENTRY_REJECTED
   *   when `deserialize` or `apply` fails on the snapshot or an update (or `apply` returns
   *   `undefined`), with the entry's `offset` (the log is left as it is: `aof salvage` rewrites
   *   it without that entry); ERR_AOF_INVALID_ARGUMENT for bad options.
   */
  static async open<T, U = unknown>(options: StateStoreOptions<T, U>): Promise<StateStore<T, U>> {
    checkObject(options, 'options must be an object')
    const every = options.snapshotEvery ?? 1000
    if (!Number.isSafeInteger(every) || every < 0) {
      throw invalidArgument(`snapshotEvery must be a non-negative integer, got ${String(every)}`)
    }
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw invalidArgument('path must be a non-empty string')
    }
    if (typeof options.apply !== 'function') throw invalidArgument('apply must be a function')
    for (const name of ['serialize', 'deserialize', 'clone'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') throw invalidArgument(`${name} must be a function`)
    }
    const writerOptions: StateWriterOptions = {}
    if (options.sync !== undefined) writerOptions.sync = options.sync
    if (options.syncIntervalMs !== undefined) writerOptions.syncIntervalMs = options.syncIntervalMs
    if (options.repair !== undefined) writerOptions.repair = options.repair
    if (options.appendOnlyFile !== undefined) writerOptions.appendOnlyFile = options.appendOnlyFile
    if (options.compactWhen !== undefined) writerOptions.compactWhen = options.compactWhen
    const writer = await StateWriter.open(options.path, writerOptions)
    try {
      // A log in an AppendOnlyFile cannot grow past its sizeUpper: without compaction the store
      // would refuse every update once it is full. By default it snapshots after a quarter of
      // sizeUpper (at most 1 MiB) of updates, and compacts when the log is twice its snapshot.
      const file = writer.appendOnlyFile
      let guard: number | null = null
      if (options.compactWhen === undefined && file !== null) {
        guard = Math.min(1 << 20, Math.floor(file.geometry.sizeUpper / 4))
        writer.compactByDefault({ ratio: 2, sizeMin: guard })
      }
      const deserialize = options.deserialize ?? fromJson
      const { state: snapshot, updates, epoch } = writer.restored
      let state: T
      if (snapshot !== null) {
        try {
          state = deserialize(snapshot) as T
        } catch (error) {
          throw entryRejected(options.path, epoch, 'snapshot', error)
        }
      } else if (typeof options.initial === 'function') state = (options.initial as () => T)()
      else state = structuredClone(options.initial)
      let replayed = 0
      for (let update = updates.read(); update !== null; update = updates.read()) {
        try {
          const next = options.apply(state, deserialize(update) as U)
          if (next === undefined) throw new TypeError('apply returned undefined')
          state = next
        } catch (error) {
          throw entryRejected(options.path, updates.entryOffset, 'update', error)
        }
        replayed++
      }
      return new StateStore(writer, options, every, state, replayed, guard)
    } catch (error) {
      writer.restored.updates.close()
      await writer.close()
      throw error
    }
  }

  /** The current state (do not mutate it outside `apply`). */
  get state(): T {
    return this.#state
  }

  /** How many updates were replayed on open. */
  get replayed(): number {
    return this.#replayed
  }

  /** The torn tail cut away on open, or `null`. */
  get cut(): TailCut | null {
    return this.#writer.cut
  }

  /** The underlying writer (its epoch and size). */
  get writer(): StateWriter {
    return this.#writer
  }

  /**
   * Applies `update` and logs it; every `snapshotEvery` updates, logs a snapshot too.
   * @param update - The update: a value that `serialize` turns into bytes `deserialize` reads
   *   back (with JSON: not `undefined`, a function, a symbol or a BigInt).
   * @returns The new state, once the update is written (and durable with `sync: 'always'`).
   * @throws {@link AofkitError} (as a rejection) ERR_AOF_INVALID_ARGUMENT when the update (or
   *   the snapshot of the new state it is due to write) does not survive `serialize` then
   *   `deserialize`, or `apply` returns `undefined`: nothing is logged and nothing changes;
   *   what {@link StateWriter.update} throws, after which the store refuses further updates
   *   with the same error; ERR_AOF_CLOSED after {@link StateStore.close}. Errors of `apply`
   *   propagate, and then nothing changes (it ran on a copy of the state).
   */
  async update(update: U): Promise<T> {
    this.#checkUsable()
    const { bytes, decoded } = this.#encode(update, 'update')
    const next = this.#apply(this.#copy(this.#state), decoded as U)
    if (next === undefined) throw invalidArgument('apply returned undefined: it must return the new state; nothing was logged')
    const snapshotDue =
      (this.#snapshotEvery > 0 && this.#sinceSnapshot + 1 >= this.#snapshotEvery) ||
      (this.#guard !== null && this.#updateBytes + bytes.length >= this.#guard)
    const snapshot = snapshotDue ? this.#encode(next, 'state').bytes : null
    const written = this.#writer.update(bytes).catch((error: unknown) => this.#fail(error))
    this.#state = next
    this.#sinceSnapshot++
    this.#updateBytes += bytes.length
    const snapshotted = snapshot === null ? null : this.#writeSnapshot(snapshot)
    await written
    if (snapshotted !== null) await snapshotted
    return next
  }

  /**
   * Logs a snapshot of the current state now.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT when the state does not survive
   *   `serialize` then `deserialize` (nothing is logged); what {@link StateWriter.snapshot} throws.
   */
  snapshot(): Promise<void> {
    try {
      this.#checkUsable()
      return this.#writeSnapshot(this.#encode(this.#state, 'state').bytes)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Compacts the log so that it starts at the latest snapshot (see {@link StateWriter.compact}).
   * @returns What was done.
   */
  compact(): Promise<CompactResult> {
    return this.#writer.compact()
  }

  /** Closes the store (see {@link StateWriter.close}); later updates throw ERR_AOF_CLOSED. Idempotent. */
  close(): Promise<void> {
    this.#failure ??= new AofkitError(ErrorCode.Closed, 'the state store is closed')
    return this.#writer.close()
  }

  /**
   * `value` as bytes that `deserialize` reads back, and what it reads: what is logged must be
   * restorable, or the store would never open again.
   */
  #encode(value: T | U, what: 'update' | 'state'): { bytes: Uint8Array; decoded: unknown } {
    let bytes: unknown
    try {
      bytes = this.#serialize(value)
    } catch (error) {
      throw new AofkitError(ErrorCode.InvalidArgument, `the ${what} cannot be serialized (${messageOf(error)}); nothing was logged`, { cause: error })
    }
    // Checked like any bytes given to a writer: a view of a detached buffer, say, would fail the
    // append after apply() ran, and leave the store and its log apart.
    if (!isBytes(bytes)) throw invalidBytes(bytes, `serialize's result for the ${what}`)
    let decoded: unknown
    try {
      decoded = this.#deserialize(bytes)
    } catch (error) {
      throw new AofkitError(
        ErrorCode.InvalidArgument,
        `the ${what} does not survive serialization: deserialize fails on what serialize made of it (${messageOf(error)}); nothing was logged`,
        { cause: error },
      )
    }
    return { bytes, decoded }
  }

  /** The private copy of the state that `apply` works on. */
  #copy(state: T): T {
    if (this.#clone !== null) return this.#clone(state)
    try {
      return structuredClone(state)
    } catch {
      return this.#encode(state, 'state').decoded as T
    }
  }

  #writeSnapshot(bytes: Uint8Array): Promise<void> {
    this.#sinceSnapshot = 0
    this.#updateBytes = 0
    return this.#writer.snapshot(bytes).catch((error: unknown) => this.#fail(error))
  }

  #checkUsable(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the failure the writer reported, as it was
    if (this.#failure !== null) throw this.#failure
  }

  #fail(error: unknown): never {
    this.#failure ??= error
    throw error
  }
}
