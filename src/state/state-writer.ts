/**
 * The state log writer: appends updates and snapshots in the stateio format, byte for byte
 * what the reference `stateio.Writer` writes, over a plain file, an {@link AppendOnlyFile} or
 * any record-log sink, with a choice of durability and compaction.
 * @module
 */
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { checkBytes, intervalMs, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { copyBytes } from '../io/copy-bytes.ts'
import { encodedSize } from '../log/format.ts'
import { LogWriter } from '../log/log-writer.ts'
import type { LogSink } from '../log/sinks.ts'
import { installCompaction } from './compaction.ts'
import type { CompactResult } from './compaction.ts'
import { ENTRY_HEADER_SIZE, EntryType, buildStateEntry, writeEntryHeader } from './entry.ts'
import type { TailCut } from './recover.ts'
import { UpdateReader } from './restore.ts'
import type { Restored } from './restore.ts'
import { AppendOnlyFileTarget, MemoryTarget, isHeld, openAppendOnlyStorage, openPathStorage } from './storage.ts'
import type { OpenedStorage, Target } from './storage.ts'

/** Largest entry built in the writer's reusable buffer; larger ones get a buffer of their own. */
const SCRATCH_MAX = 64 * 1024
/** What an update resolves with when it waits for nothing: one promise for all of them, not one each. */
const RESOLVED: Promise<void> = Promise.resolve()
const EMPTY = new Uint8Array(0)

/**
 * When an entry is durable:
 * - `'always'`: before the promise of `update()` / `snapshot()` resolves. Concurrent calls share
 *   one fdatasync (group commit).
 * - `'interval'`: within about `syncIntervalMs` (a background fdatasync); a crash of the
 *   process loses nothing written to the OS, a power loss loses up to the interval.
 * - `'none'`: entries reach the OS at the end of the current event-loop turn; never synced
 *   except by {@link StateWriter.sync}. A power loss may lose anything not synced.
 */
export type SyncMode = 'always' | 'interval' | 'none'

/** When the writer compacts by itself. */
export interface CompactPolicy {
  /** Compact when the log is larger than this many times its latest snapshot entry (> 1). */
  ratio: number
  /** ...and at least this many bytes. Default: 1 MiB. */
  sizeMin?: number
}

/** Options of {@link StateWriter.open}. */
export interface StateWriterOptions {
  /** Durability, see {@link SyncMode}. Default: `'always'`. */
  sync?: SyncMode
  /** Interval of the background sync in `'interval'` mode, in ms. Default: 100. */
  syncIntervalMs?: number
  /**
   * Cut a torn tail (a last entry a crash left incomplete) instead of failing, and report it in
   * {@link StateWriter.cut}. Default: true. With false, open fails where the reference's
   * restore does.
   */
  repair?: boolean
  /**
   * Compact automatically (see {@link StateWriter.compact}). Not with an AppendOnlyFile the
   * caller opened. Default: never.
   */
  compactWhen?: CompactPolicy
  /**
   * For a path: keep the log in an {@link AppendOnlyFile} (opened with these options; `create`
   * defaults to true) instead of a plain file. The writer opens it through a manager of its
   * own, so a file this process already has open elsewhere is refused with ERR_AOF_LOCKED.
   * Default: a plain file.
   */
  appendOnlyFile?: OpenOptions | boolean
}

/** Options of {@link StateWriter.fromSink}. */
export interface StateWriterSinkOptions {
  /** The log's current epoch (the reference's `NewWriter(w, off, epoch)`). Default: 0. */
  epoch?: number
  /** Absolute offset of the sink's next byte. Default: `sink.size`. */
  offset?: number
}

interface QueuedOp {
  type: EntryType
  payload: Uint8Array
  resolve: () => void
  reject: (error: unknown) => void
}

function snapshotEntrySize(epoch: number, state: Uint8Array | null): number {
  return state === null ? 0 : encodedSize(epoch, ENTRY_HEADER_SIZE + state.length)
}

/**
 * Writes a state log: {@link StateWriter.update} appends an update to the current epoch,
 * {@link StateWriter.snapshot} appends a snapshot and starts a new epoch at its offset.
 *
 * {@link StateWriter.open} restores the log first (like the reference's `NewFileWriter`), cuts a
 * torn tail a crash left, and appends after the end. The restored state and updates are in
 * {@link StateWriter.restored}. One writer per log: a plain file is locked with `flock`, an
 * AppendOnlyFile by its own lock.
 *
 * Calls may overlap (`Promise.all` of many updates); entries are appended in call order, and
 * with `sync: 'always'` they share fdatasyncs.
 */
export class StateWriter {
  #target: Target
  #log: LogWriter
  #epoch: number
  readonly #mode: SyncMode
  readonly #restored: Restored
  readonly #cut: TailCut | null
  #policy: CompactPolicy | null
  #snapshotSize: number
  #flushScheduled = false
  #timer: NodeJS.Timeout | null = null
  #backgroundError: unknown = null
  #compacting: Promise<CompactResult> | null = null
  #queue: QueuedOp[] = []
  #closing: Promise<void> | null = null
  /** Where entries up to SCRATCH_MAX bytes are built (see #entry). */
  #scratch: Uint8Array = new Uint8Array(0)
  /** The last view of `#scratch` handed to the log: the next entry of its size reuses it. */
  #scratchView: Uint8Array = EMPTY

  private constructor(opened: OpenedStorage, mode: SyncMode, intervalMs: number, policy: CompactPolicy | null) {
    const { target, log, epoch, restored, cut } = opened
    this.#target = target
    this.#log = log
    this.#epoch = epoch
    this.#mode = mode
    this.#restored = restored
    this.#cut = cut
    this.#policy = policy
    this.#snapshotSize = snapshotEntrySize(restored.epoch, restored.state)
    if (mode === 'interval') {
      this.#timer = setInterval(() => {
        this.#target.durable().catch((error: unknown) => {
          this.#backgroundError ??= error
        })
      }, intervalMs)
      this.#timer.unref()
    }
  }

  /**
   * A writer over any record-log sink, at the given epoch: the reference's `NewWriter(w, off,
   * epoch)`. Nothing is restored or synced: `sync()` only flushes the sink.
   * @param sink - Where the log's bytes go.
   * @param options - Epoch and offset.
   * @returns The writer (sync mode `'none'`).
   */
  static fromSink(sink: LogSink, options: StateWriterSinkOptions = {}): StateWriter {
    const epoch = options.epoch ?? 0
    if (!Number.isSafeInteger(epoch) || epoch < 0) {
      throw invalidArgument(`epoch must be a non-negative safe integer, got ${String(epoch)}`)
    }
    const log = new LogWriter(sink, options.offset === undefined ? {} : { offset: options.offset })
    const restored: Restored = { state: null, epoch, updates: new UpdateReader(null, epoch, 0) }
    return new StateWriter({ target: new MemoryTarget(sink), log, epoch, restored, cut: null }, 'none', 0, null)
  }

  /**
   * Opens (creating if needed) the state log at `path`, or over an open {@link AppendOnlyFile},
   * restores it, cuts a torn tail, and returns a writer that appends after its end.
   * @param target - A path (a plain file, or with `options.appendOnlyFile` an AppendOnlyFile the
   *   writer opens, owns, and may replace when compacting; a path that holds an AppendOnlyFile
   *   is opened as one even without the option), or an AppendOnlyFile the caller
   *   opened, holding only this log (never closed or replaced by the writer, so it cannot be
   *   compacted).
   * @param options - Durability, repair, compaction policy, storage.
   * @returns The writer; `restored` holds the state and the epoch's updates (read them before
   *   closing or compacting the writer), `cut` what was cut.
   * @throws {@link AofkitError} ERR_AOF_LOCKED when another writer holds the log (or another
   *   state writer the given AppendOnlyFile); ERR_STATE_CORRUPT, ERR_LOG_CORRUPTED,
   *   ERR_LOG_UNEXPECTED_EOF when it is damaged before its tail (or at all, with `repair:
   *   false`; over an AppendOnlyFile, a torn entry too; never cut); ERR_AOF_INVALID_ARGUMENT for bad options, `compactWhen` with a caller's AppendOnlyFile,
   *   or `appendOnlyFile` on a path holding a plain log; system codes
   *   (ERR_AOF_NOT_FOUND, ERR_AOF_READ_ONLY, ERR_AOF_IO…).
   */
  static async open(target: string | AppendOnlyFile, given?: StateWriterOptions): Promise<StateWriter> {
    const options = optionsOf(given)
    const mode = options.sync ?? 'always'
    if (mode !== 'always' && mode !== 'interval' && mode !== 'none') {
      throw invalidArgument(`sync must be 'always', 'interval' or 'none', got ${String(mode)}`)
    }
    const syncIntervalMs = intervalMs(options.syncIntervalMs, 'syncIntervalMs', 100)
    const policy = options.compactWhen ?? null
    if (policy !== null && !(policy.ratio > 1)) {
      throw invalidArgument(`compactWhen.ratio must be > 1, got ${String(policy.ratio)}`)
    }
    const repair = options.repair ?? true
    if (target instanceof AppendOnlyFile) {
      if (policy !== null) {
        throw invalidArgument('compactWhen needs the writer to own its AppendOnlyFile: open the state log by path')
      }
      if (isHeld(target)) {
        throw new AofkitError(ErrorCode.Locked, `state log '${target.path}' is held by another state writer`, { path: target.path })
      }
      return new StateWriter(openAppendOnlyStorage(target, null, {}, repair), mode, syncIntervalMs, null)
    }
    if (typeof target !== 'string' || target.length === 0) {
      throw invalidArgument('target must be a path or an AppendOnlyFile')
    }
    if (options.appendOnlyFile !== undefined && options.appendOnlyFile !== false) {
      const openOptions: OpenOptions = options.appendOnlyFile === true ? {} : options.appendOnlyFile
      return new StateWriter(await openPathStorage(target, openOptions, repair), mode, syncIntervalMs, policy)
    }
    return new StateWriter(await openPathStorage(target, null, repair), mode, syncIntervalMs, policy)
  }

  /**
   * Compacts by `policy` when open was given no `compactWhen`: the store's default for a log in
   * an AppendOnlyFile, whose size is capped.
   * @internal
   */
  compactByDefault(policy: CompactPolicy): void {
    this.#policy ??= policy
  }

  /**
   * The AppendOnlyFile the log is kept in, or null for a plain file or a sink. A compaction
   * swaps in a new file: read this again after one.
   */
  get appendOnlyFile(): AppendOnlyFile | null {
    const target = this.#target
    return target instanceof AppendOnlyFileTarget ? target.file : null
  }

  /** The current epoch: the offset of the latest snapshot (0 before any). */
  get epoch(): number {
    return this.#epoch
  }

  /** The size of the log in bytes (entries appended so far included). */
  get size(): number {
    return this.#log.position
  }

  /** What open restored: the state, its epoch, and a reader of the epoch's updates. */
  get restored(): Restored {
    return this.#restored
  }

  /** The torn tail open cut away, or `null`. */
  get cut(): TailCut | null {
    return this.#cut
  }

  /**
   * Appends an update to the current epoch.
   * @param update - The update's bytes (not copied: leave them unchanged until the promise
   *   resolves).
   * @returns A promise that resolves once the entry is written and, with `sync: 'always'`,
   *   durable.
   * @throws {@link AofkitError} (as a rejection) ERR_AOF_CLOSED after close; system codes
   *   (ERR_AOF_NO_SPACE, ERR_AOF_IO…) from writing or syncing.
   */
  update(update: Uint8Array): Promise<void> {
    return this.#submit(EntryType.Update, update)
  }

  /**
   * Appends a snapshot: later updates build on it, and its offset becomes the epoch.
   * @param snapshot - The full state's bytes (not copied until written).
   * @returns As {@link StateWriter.update}.
   * @throws {@link AofkitError} as {@link StateWriter.update}.
   */
  snapshot(snapshot: Uint8Array): Promise<void> {
    return this.#submit(EntryType.Snapshot, snapshot)
  }

  /**
   * Makes every entry appended so far durable (one group-committed fdatasync).
   * @throws {@link AofkitError} ERR_AOF_CLOSED, ERR_AOF_IO.
   */
  async sync(): Promise<void> {
    this.#checkOpen()
    await this.#compactionsDone()
    await this.#target.durable()
  }

  /**
   * Rewrites the log so that it starts at its latest snapshot (then the epoch's updates),
   * atomically: the new log is written to `<path>.compact`, made durable, renamed over the old
   * one, and the directory is fsynced; the writer then appends to the new log. A crash at any
   * point leaves the old or the new log, which restore to the same state. Updates and snapshots
   * called meanwhile wait for it and land in the new log, in call order.
   *
   * Over an AppendOnlyFile the new log is a new AppendOnlyFile, and its `-shm` sidecar replaces
   * the old one. Only a writer that opened the file itself (by path) can compact it: an
   * AppendOnlyFile given by the caller is refused, since its owner would keep using the
   * replaced file. Views of the old log (`restored`) are invalid afterwards.
   * @returns What was done (`compacted: false` when the log already starts at its snapshot).
   * @throws {@link AofkitError} (as a rejection) ERR_AOF_INVALID_ARGUMENT for a writer over a
   *   sink or over a caller's AppendOnlyFile; ERR_AOF_CLOSED; ERR_AOF_NO_SPACE, ERR_AOF_IO and
   *   other system codes. When the error comes before the rename, the old log stays in place
   *   and the writer goes on with it; after it (the directory's fsync), the writer already uses
   *   the new log.
   */
  compact(): Promise<CompactResult> {
    try {
      this.#checkOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#compacting !== null) return this.#compacting
    const compacting = this.#compact().finally(() => {
      this.#compacting = null
      this.#drainQueue()
    })
    this.#compacting = compacting
    return compacting
  }

  /**
   * Waits for compaction and pending syncs, makes the log durable (except with `sync:
   * 'none'`, which only writes it to the OS) and closes the file. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await this.#compactionsDone()
    if (this.#timer !== null) clearInterval(this.#timer)
    try {
      this.#target.sink.flush()
      if (this.#mode !== 'none') await this.#target.durable()
    } finally {
      await this.#target.close()
    }
  }

  /**
   * Waits until no compaction runs: the entries queued behind one may start the next (by the
   * policy), and the rest of the queue waits for that one in turn.
   */
  async #compactionsDone(): Promise<void> {
    while (this.#compacting !== null) await this.#compacting.catch(() => undefined)
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new AofkitError(ErrorCode.Closed, 'the state writer is closed')
    const error = this.#backgroundError
    if (error !== null) {
      this.#backgroundError = null
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the background failure, as it was
      throw error
    }
  }

  #submit(type: EntryType, payload: Uint8Array): Promise<void> {
    try {
      this.#checkOpen()
      checkBytes(payload, type === EntryType.Update ? 'the update' : 'the snapshot')
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#compacting !== null || this.#queue.length > 0) {
      return new Promise((resolve, reject) => this.#queue.push({ type, payload, resolve, reject }))
    }
    try {
      this.#append(type, payload)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#afterAppend()
  }

  #append(type: EntryType, payload: Uint8Array): void {
    const entry = this.#entry(type, payload)
    if (type === EntryType.Snapshot) {
      // As the reference: the new epoch is Tell() before the snapshot.
      const epoch = this.#log.tell()
      this.#log.append(entry)
      this.#epoch = epoch
      this.#snapshotSize = encodedSize(epoch, entry.length)
    } else {
      this.#log.append(entry)
    }
  }

  /**
   * The entry's bytes: header then payload. Up to SCRATCH_MAX bytes they are built in one
   * buffer the writer keeps, since the record log copies an entry before `append` returns and
   * keeps no reference to it; a new buffer per update was 42% of an update's time.
   */
  #entry(type: EntryType, payload: Uint8Array): Uint8Array {
    const size = ENTRY_HEADER_SIZE + payload.length
    if (size > SCRATCH_MAX) return buildStateEntry(type, this.#epoch, payload)
    if (this.#scratch.length < size) {
      this.#scratch = new Uint8Array(Math.max(size, Math.min(2 * this.#scratch.length, SCRATCH_MAX)))
      this.#scratchView = EMPTY
    }
    const scratch = this.#scratch
    writeEntryHeader(scratch, 0, type, this.#epoch)
    copyBytes(scratch, payload, ENTRY_HEADER_SIZE)
    // A view per entry was garbage per update; updates are mostly of one size.
    let view = this.#scratchView
    if (view.length !== size) view = this.#scratchView = scratch.subarray(0, size)
    return view
  }

  #afterAppend(): Promise<void> {
    const policy = this.#policy
    if (policy !== null && this.#compacting === null && this.#epoch > 0 && this.#snapshotSize > 0) {
      const size = this.#log.position
      if (size >= (policy.sizeMin ?? 1 << 20) && size > policy.ratio * this.#snapshotSize) {
        this.compact().catch((error: unknown) => {
          this.#backgroundError ??= error
        })
      }
    }
    if (this.#mode === 'always') return this.#target.durable()
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => {
        this.#flushScheduled = false
        try {
          this.#target.sink.flush()
        } catch (error) {
          this.#backgroundError ??= error
        }
      })
    }
    return RESOLVED
  }

  /**
   * Appends the entries queued behind a compaction, in call order, until the queue is empty or
   * one of them starts another compaction (by the policy, in #afterAppend): that one has read
   * the log as it is, so the entries after it must wait for it and land in its new log, not in
   * the old log it replaces.
   */
  #drainQueue(): void {
    const queue = this.#queue
    let drained = 0
    while (drained < queue.length && this.#compacting === null) {
      const op = queue[drained++] as QueuedOp
      try {
        this.#append(op.type, op.payload)
        this.#afterAppend().then(op.resolve, op.reject)
      } catch (error) {
        op.reject(error)
      }
    }
    queue.splice(0, drained)
  }

  async #compact(): Promise<CompactResult> {
    const old = this.#target
    const sizeBefore = this.#log.position
    const prepared = await old.prepareCompaction(sizeBefore)
    if (prepared === null) return { compacted: false, sizeBefore, sizeAfter: sizeBefore }
    await installCompaction(
      prepared,
      () => {
        // From the rename on, the new log is the log: write on there whatever happens next.
        this.#target = prepared.target
        this.#log = prepared.log
        this.#epoch = prepared.epoch
        this.#snapshotSize = prepared.snapshotSize
      },
      () => old.close(),
    )
    return { compacted: true, sizeBefore, sizeAfter: prepared.log.position }
  }
}
