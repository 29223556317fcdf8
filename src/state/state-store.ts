/**
 * A small typed store on top of the state log: the application's state `T` is restored from
 * the latest snapshot by replaying the epoch's updates through `apply`, and every update is
 * applied and then logged. JSON by default; any serializer can be plugged in.
 * @module
 */
import type { OpenOptions } from '../aof/open-file.ts'
import { checkObject, invalidArgument } from '../arguments.ts'
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
  /** Applies an update to a state and returns the new state (it may mutate and return `state`). */
  apply: (state: T, update: U) => T
  /** Turns a state or an update into bytes. Default: UTF-8 JSON. */
  serialize?: (value: T | U) => Uint8Array
  /** Turns bytes written by `serialize` back into a state or an update. Default: UTF-8 JSON. */
  deserialize?: (bytes: Uint8Array) => unknown
  /** Write a snapshot after this many updates (0: never by itself). Default: 1000. */
  snapshotEvery?: number
  /** Durability (see {@link SyncMode}). Default: `'always'`. */
  sync?: SyncMode
  /** Interval of the background sync in `'interval'` mode, in ms. Default: 100. */
  syncIntervalMs?: number
  /** Automatic compaction (see {@link CompactPolicy}). Default: never. */
  compactWhen?: CompactPolicy
  /** Cut a torn tail on open (see {@link StateWriterOptions.repair}). Default: true. */
  repair?: boolean
  /**
   * Keep the log in an AppendOnlyFile (see {@link StateWriterOptions.appendOnlyFile}).
   * Default: a plain file.
   */
  appendOnlyFile?: OpenOptions | boolean
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function toJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

function fromJson(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes))
}

/**
 * An application state kept in a state log. Open it with {@link StateStore.open}; read
 * {@link StateStore.state}; change it with {@link StateStore.update}.
 *
 * `update(u)` computes `apply(state, u)` first (nothing is logged if it throws), makes the
 * result the current state at once, appends the update, and resolves once it is durable (with
 * `sync: 'always'`). So after a crash the store reopens to the state after some prefix of the
 * updates called, including every one whose promise resolved. Once a write fails, the state in
 * memory may be ahead of the log: the store then refuses further updates with that error;
 * reopen it to continue from the log.
 */
export class StateStore<T, U = unknown> {
  readonly #writer: StateWriter
  readonly #apply: (state: T, update: U) => T
  readonly #serialize: (value: T | U) => Uint8Array
  readonly #snapshotEvery: number
  readonly #replayed: number
  #state: T
  #sinceSnapshot: number
  /** Set once a write failed or the store closed: the state may be ahead of the log. */
  #failure: unknown = null

  private constructor(writer: StateWriter, options: StateStoreOptions<T, U>, snapshotEvery: number, state: T, replayed: number) {
    this.#writer = writer
    this.#apply = options.apply
    this.#serialize = options.serialize ?? toJson
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
   *   record log's codes when an update of the epoch cannot be read; ERR_AOF_INVALID_ARGUMENT
   *   for bad options. Errors thrown by `deserialize` or `apply` propagate.
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
    const writerOptions: StateWriterOptions = {}
    if (options.sync !== undefined) writerOptions.sync = options.sync
    if (options.syncIntervalMs !== undefined) writerOptions.syncIntervalMs = options.syncIntervalMs
    if (options.compactWhen !== undefined) writerOptions.compactWhen = options.compactWhen
    if (options.repair !== undefined) writerOptions.repair = options.repair
    if (options.appendOnlyFile !== undefined) writerOptions.appendOnlyFile = options.appendOnlyFile
    const writer = await StateWriter.open(options.path, writerOptions)
    try {
      const deserialize = options.deserialize ?? fromJson
      const { state: snapshot, updates } = writer.restored
      let state: T
      if (snapshot !== null) state = deserialize(snapshot) as T
      else if (typeof options.initial === 'function') state = (options.initial as () => T)()
      else state = structuredClone(options.initial)
      let replayed = 0
      for (const update of updates) {
        state = options.apply(state, deserialize(update) as U)
        replayed++
      }
      return new StateStore(writer, options, every, state, replayed)
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
   * @param update - The update.
   * @returns The new state, once the update is written (and durable with `sync: 'always'`).
   * @throws {@link AofkitError} (as a rejection) what {@link StateWriter.update} throws, after
   *   which the store refuses further updates with the same error; ERR_AOF_CLOSED after
   *   {@link StateStore.close}. Errors of `apply` and `serialize` propagate, and then nothing
   *   changes.
   */
  async update(update: U): Promise<T> {
    this.#checkUsable()
    const next = this.#apply(this.#state, update)
    const bytes = this.#serialize(update)
    const written = this.#writer.update(bytes).catch((error: unknown) => this.#fail(error))
    this.#state = next
    this.#sinceSnapshot++
    let snapshotted: Promise<void> | null = null
    if (this.#snapshotEvery > 0 && this.#sinceSnapshot >= this.#snapshotEvery) snapshotted = this.#snapshotNow()
    await written
    if (snapshotted !== null) await snapshotted
    return next
  }

  /**
   * Logs a snapshot of the current state now.
   * @throws {@link AofkitError} what {@link StateWriter.snapshot} throws.
   */
  snapshot(): Promise<void> {
    try {
      this.#checkUsable()
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#snapshotNow()
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

  #snapshotNow(): Promise<void> {
    this.#sinceSnapshot = 0
    return this.#writer.snapshot(this.#serialize(this.#state)).catch((error: unknown) => this.#fail(error))
  }

  #checkUsable(): void {
    if (this.#failure !== null) throw this.#failure
  }

  #fail(error: unknown): never {
    this.#failure ??= error
    throw error
  }
}
