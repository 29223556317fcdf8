/**
 * AppendOnlyFile: a single-writer, memory-mapped append-only file (the Go `aof` package's AOF).
 *
 * The file is mapped once, at `geometry.sizeUpper`; appends copy into the mapping and never
 * remap. After every write the 8-byte MagicTail follows the data and the committed size is
 * published in the `-shm` sidecar, so a writer killed at any instant loses at most the write in
 * flight. The appends themselves are in `write-path.ts`; the file grows ahead of the writer
 * (`growth.ts`); flushes and syncs are in `durability.ts`; followers are woken through
 * `wake-up.ts`.
 * @module
 */
import { Readable } from 'node:stream'

import { invalidArgument, invalidBytes } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { FileState } from './file-state.ts'
import type { Geometry } from './geometry.ts'
import type { AppendFunction } from './append-event.ts'
import { Durability } from './durability.ts'
import type { FileResources, OpenOptions, OpenRecovery } from './open-file.ts'
import { Growth } from './growth.ts'
import type { Sidecar } from './shm.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'
import { followData, waitForChange } from './follow-data.ts'
import type { TailOptions } from './follow-data.ts'
import type { TailSource } from './tail-source.ts'
import { Tailer } from './tailer.ts'
import type { Consumer, SubscribeOptions } from './tailer.ts'
import { WriterWakeups } from './wake-up.ts'
import { WritePath, checkReserve } from './write-path.ts'
import { entry } from './entry-points.ts'
import { closeHoldings, sealFinished } from './file-end.ts'
import type { FileHoldings } from './file-end.ts'
import type { ReaderOptions, FileReader } from './reader.ts'

/** @internal What the manager provides to the files it opens. */
export interface FileOwner {
  readonly stats: StatsRecorder
  readonly readMode: number
  /** Called once the file is closed. */
  release(file: AppendOnlyFile): void
  /** Called when the file was renamed from `previousPath`. */
  renamed(file: AppendOnlyFile, previousPath: string): void
}

/** A single-writer, many-reader, memory-mapped append-only file. */
export class AppendOnlyFile {
  /**
   * Opens (or, with `create: true`, creates) an append-only file through the default manager.
   * Synchronous: returns the file, or throws an {@link AofkitError}. Opening a path that is
   * already open through the default manager returns the same instance, counted: each open
   * needs its close() ({@link Manager.open}). A relative path resolves against the working
   * directory of the call.
   */
  static open(path: string, options: OpenOptions = {}): AppendOnlyFile {
    return entry().open(path, options)
  }

  /**
   * Opens a read-only follower of `path` for this thread, in any process: it follows the live
   * writer through the `-shm` sidecar, reads a finished file to its end, and reports a writer
   * that died. Synchronous.
   */
  static openReader(path: string, options: ReaderOptions = {}): FileReader {
    return entry().openReader(path, options)
  }

  readonly #owner: FileOwner
  #path: string
  readonly #fd: number
  readonly #anonymous: boolean
  readonly #geometry: Geometry
  readonly #recovery: OpenRecovery
  readonly #mappedBytes: number
  #mapping: ArrayBuffer | SharedArrayBuffer
  #sidecar: Sidecar | null
  /** Followers in this thread and readers elsewhere. */
  readonly #wakeups: WriterWakeups
  readonly #tailSource: TailSource
  #state: FileState
  /** The data and how it is appended: the committed size, the last checkpoint. */
  readonly #data: WritePath
  readonly #growth: Growth
  readonly #durability: Durability
  #closing: Promise<void> | null = null
  /** Opens of this file not closed yet (a manager hands the same file to each). */
  #opens = 1
  #finishing: Promise<void> | null = null

  /** @internal Makes the file over what {@link openFile} opened: a {@link Manager}'s part. */
  static adopt(resources: FileResources, owner: FileOwner): AppendOnlyFile {
    return new AppendOnlyFile(resources, owner)
  }

  /** Use {@link AppendOnlyFile.open} or a {@link Manager}. */
  private constructor(resources: FileResources, owner: FileOwner) {
    this.#owner = owner
    this.#path = resources.path
    this.#fd = resources.fd
    this.#anonymous = resources.anonymous
    this.#geometry = resources.geometry
    this.#recovery = resources.recovery
    this.#mappedBytes = resources.mappedBytes
    this.#mapping = resources.mapping
    this.#sidecar = resources.sidecar
    const wakeups = new WriterWakeups(resources.sidecar, () => this.#data.size)
    this.#wakeups = wakeups
    this.#tailSource = wakeups.source({
      committedSize: () => this.#data.size,
      fileState: () => this.#state,
      read: (begin, end) => this.#data.bytes.subarray(begin, end),
    })
    this.#state = resources.state
    const growable = this.#state === FileState.Opened && !this.#anonymous
    this.#growth = new Growth(
      resources,
      owner.stats,
      growable,
      () => this.#path,
      (size) => this.#sidecar?.setAllocatedSize(size),
      () => this.#data.size,
    )
    this.#data = new WritePath(resources, this.#growth, wakeups)
    this.#durability = new Durability(
      resources,
      { stats: owner.stats, path: () => this.#path, committedSize: () => this.#data.size },
      this.#growth,
    )
    // Fault in what is allocated already, on the pool, before the first writes reach it, and grow ahead.
    if (growable) this.#growth.advance(resources.size)
  }

  /** The path the file was opened with (the name, for an anonymous file). */
  get path(): string {
    return this.#path
  }

  /** Logical data bytes: everything every returned write wrote. */
  get size(): number {
    return this.#data.size
  }

  /** Bytes of the file on disk: allocated so far (open) or present (finished, read-only). */
  get fileSize(): number {
    return this.#growth.allocated
  }

  /** The file's {@link FileState}. */
  get state(): FileState {
    return this.#state
  }

  /** True for a memory-only file from {@link Manager.openAnonymous}. */
  get isAnonymous(): boolean {
    return this.#anonymous
  }

  /** What recovery found when this file was opened. */
  get recovery(): OpenRecovery {
    return this.#recovery
  }

  /** The validated geometry (its `sizeUpper` may have been raised to cover an existing file). */
  get geometry(): Geometry {
    return this.#geometry
  }

  /** Offset of the last checkpoint written, or -1. */
  get lastCheckpoint(): number {
    return this.#data.lastCheckpoint
  }

  /**
   * A zero-copy view of the data `[begin, end)` (default: all of it). The view reads the
   * mapping itself: it is valid until the file is closed and must not be written to.
   */
  contents(begin = 0, end: number = this.#data.size): Uint8Array {
    this.#checkReadable()
    const size = this.#data.size
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin || end > size) {
      throw invalidArgument(`range [${String(begin)}, ${String(end)}) is not within the data [0, ${size})`)
    }
    return this.#data.bytes.subarray(begin, end)
  }

  /**
   * Appends `bytes` and returns how many were written (all of them). Grows the file first when
   * needed, which may block on fallocate. Throws `ERR_AOF_FULL` past `sizeUpper` and
   * `ERR_AOF_NO_SPACE` on a full disk; either way nothing is written.
   */
  write(bytes: Uint8Array): number {
    return this.#write(bytes, true)
  }

  /**
   * Appends every record of `records`, one after the other, as one write: one call, one commit
   * (one MagicTail, one published size, one wake-up of the followers). Readers see all of them
   * at once or none, and a writer killed during the call loses all of them or none. Returns
   * the bytes written. For many small records it costs less per record than a `write()` each.
   * Growth and errors as for {@link write}; nothing is written when an element is not a
   * Uint8Array.
   */
  writeBatch(records: readonly Uint8Array[]): number {
    if (this.#state !== FileState.Opened || this.#data.appending) this.#throwNotWritable()
    return this.#data.writeBatch(records)
  }

  /**
   * Like {@link write}, but never grows the file nor waits for the disk: when the file must
   * grow first it starts that growth in the background and throws `ERR_AOF_WOULD_BLOCK`,
   * writing nothing. When that growth failed (a full disk), the next call throws its error
   * (`ERR_AOF_NO_SPACE`), and the one after starts it again. Its only system call is the one
   * every commit makes while readers in other threads or processes wait for data: a wake-up
   * that does not touch the disk (a one-byte read or rewrite of the sidecar's page, and a futex
   * wake for readers blocked in one). With nobody waiting elsewhere, it makes none.
   */
  writeNonBlocking(bytes: Uint8Array): number {
    return this.#write(bytes, false)
  }

  /**
   * Reserve-then-fill, zero copy: reserves `reserve` bytes, lets `fn` fill a view of them in the
   * mapping, and commits as many as it says it used. Returns that count.
   */
  append(reserve: number, fn: AppendFunction): number {
    return this.#append(reserve, fn, true)
  }

  /**
   * Like {@link append}, but throws `ERR_AOF_WOULD_BLOCK` instead of growing the file itself;
   * system calls as for {@link writeNonBlocking}.
   */
  appendNonBlocking(reserve: number, fn: AppendFunction): number {
    return this.#append(reserve, fn, false)
  }

  /**
   * @internal The record log's zero-copy path: appends exactly `size` bytes that `fill` writes
   * into `target[at, at + size)`, where `target` is the whole mapping. Unlike {@link append}
   * it creates no event or view per call. Blocking growth, errors and the undo on a throwing
   * `fill` are those of `append`.
   */
  appendFill(size: number, fill: (target: Uint8Array, at: number) => void): void {
    if (this.#state !== FileState.Opened || this.#data.appending) this.#throwNotWritable()
    checkReserve(size, 'size', this.#geometry)
    this.#data.appendFill(size, fill)
  }

  /** Writes a MagicCheckpoint into the stream and returns its offset. */
  checkpoint(): number {
    if (this.#state !== FileState.Opened || this.#data.appending) this.#throwNotWritable()
    return this.#data.checkpoint()
  }

  /**
   * Starts write-back of the data written since the last flush and resolves once the kernel has
   * queued it. It does not wait for the disk: use {@link sync} for durability.
   */
  flush(): Promise<void> {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) return Promise.reject(this.#closedError())
    if (this.#anonymous || this.#fd < 0) return Promise.resolve()
    return this.#durability.flush()
  }

  /**
   * Resolves once every byte written before the call is durable (survives power loss).
   * Concurrent callers share one fdatasync. Once a sync or flush of the file failed, every
   * later sync() (and finish()) fails too, with the same code: the kernel may have dropped
   * what it could not write, so no later sync can vouch for it. Reopen the file then.
   */
  sync(): Promise<void> {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) return Promise.reject(this.#closedError())
    if (this.#anonymous || this.#state !== FileState.Opened) return this.#finishing ?? Promise.resolve()
    return this.#durability.sync()
  }

  /**
   * Ends the file: writes a MagicCheckpoint after the data, truncates the file to it, makes it
   * durable and read-only (the manager's `readMode`), and enters the EOF state. Idempotent.
   */
  finish(): Promise<void> {
    if (this.#finishing !== null) return this.#finishing
    if (this.#state === FileState.EOF) return Promise.resolve()
    if (this.#state !== FileState.Opened) return Promise.reject(this.#closedError())
    if (this.#data.appending) this.#throwNotWritable()
    this.#state = FileState.EOF
    this.#finishing = this.#owner.stats.timeAsync(Operation.finish, () => sealFinished(this.#holdings(), this.#owner.readMode)).finally(() => {
      // Tailers get their last event (eof: true); iterators read to the end and stop.
      this.#wakeups.wakeFollowers()
    })
    return this.#finishing
  }

  /**
   * Closes the file: waits for background growth, flushes and syncs in flight, then unmaps,
   * releases the lock and closes the descriptor. Views from {@link contents} become empty.
   * Idempotent. Data already written stays in the file; close() does not sync. A file opened
   * more than once through a manager closes at the last of their close() calls; the earlier
   * ones resolve at once and leave it open for the other callers.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    if (this.#state === FileState.Closed) return Promise.resolve()
    if (this.#opens > 1) {
      this.#opens--
      return Promise.resolve()
    }
    const startNs = nowNs()
    this.#state = FileState.Closing
    this.#closing = this.#close().finally(() => {
      this.#owner.stats.record(Operation.close, startNs)
      this.#owner.release(this)
    })
    return this.#closing
  }

  /**
   * Follows the file with `consumer` (the Go `aof` package's Subscribe / SubscribeInterval): it is polled
   * with the data committed since its position, once per tick however many writes happened,
   * or every `intervalMs`. A consumer that returns less than `event.end` is polled again on the
   * next tick; one that throws is closed with that error. finish() delivers a last event with
   * `eof: true`; close() closes every tailer with the reason `'file closed'`.
   */
  subscribe(consumer: Consumer, options: SubscribeOptions = {}): Tailer {
    this.#checkReadable()
    const tailer = Tailer.create(this.#tailSource, consumer, options)
    this.#wakeups.addTailer(tailer)
    tailer.wake('start')
    return tailer
  }

  /**
   * Polls every tailer on the next tick, whether or not data arrived (the Go `aof` package's Wake): a
   * tailer with nothing new gets an event with an empty `tail` and the reason `'wake'`. Readers
   * in other threads and processes are woken too, and poll their tailers if data arrived.
   */
  wake(): void {
    this.#checkReadable()
    for (const tailer of this.#wakeups.tailers) tailer.wake('wake')
    this.#wakeups.pokeReaders()
  }

  /**
   * The data as it is written: an async iterator of chunks from `from` (default 0), ending when
   * the file is finished and fully read, or closed. Chunks are zero-copy views of the mapping,
   * valid until the file is closed. An aborted `signal` ends it with an AbortError.
   */
  tail(options: TailOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    this.#checkReadable()
    return followData(this.#tailSource, options)
  }

  /** The data as it is written, as a byte stream; see {@link tail}. */
  stream(options: TailOptions = {}): Readable {
    return Readable.from(this.tail(options), { objectMode: false })
  }

  /**
   * Resolves at the next change a follower cares about: data committed, the file finished or
   * closed (and, for a reader, the writer gone or the file replaced). Check the size and state
   * first, then wait: a change after the check still resolves the wait. The building block of
   * `tail()` and of the record log's `tailLog`.
   * @param signal - Rejects the wait with an AbortError when aborted.
   */
  nextChange(signal?: AbortSignal): Promise<void> {
    // Resumed at the next commit, finish or close.
    return waitForChange(this.#tailSource, signal)
  }

  /** @internal The manager handed this file to one more open: one more close() to come. */
  retain(): void {
    this.#opens++
  }

  /** @internal Closes the file whatever the opens not closed yet (the manager's close()). */
  closeAll(): Promise<void> {
    this.#opens = 1
    return this.close()
  }

  /**
   * @internal The file was renamed to `path` (a state log's compaction renames its new file
   * over the old one): `path`, error messages and the manager's registry name it so from now on.
   */
  renamed(path: string): void {
    const previous = this.#path
    this.#path = path
    this.#owner.renamed(this, previous)
  }

  // ---- internals ----

  #write(bytes: Uint8Array, blocking: boolean): number {
    if (this.#state !== FileState.Opened || this.#data.appending) this.#throwNotWritable()
    // The hot path's only type test; what passes it and still is not bytes is refused by the
    // write path, off its hot path.
    if (!(bytes instanceof Uint8Array)) throw invalidBytes(bytes, 'bytes')
    this.#data.write(bytes, blocking)
    return bytes.length
  }

  #append(reserve: number, fn: AppendFunction, blocking: boolean): number {
    if (this.#state !== FileState.Opened || this.#data.appending) this.#throwNotWritable()
    if (typeof fn !== 'function') {
      throw new AofkitError(ErrorCode.AppendFuncMissing, 'append needs a function to fill the reserved bytes')
    }
    checkReserve(reserve, 'reserve', this.#geometry)
    return this.#data.append(reserve, fn, blocking)
  }

  /** What the file holds, for its end (file-end.ts). */
  #holdings(): FileHoldings {
    return {
      anonymous: this.#anonymous,
      fd: this.#fd,
      mapping: this.#mapping,
      mappedBytes: this.#mappedBytes,
      sidecar: this.#sidecar,
      data: this.#data,
      growth: this.#growth,
      durability: this.#durability,
      wakeups: this.#wakeups,
      stats: this.#owner.stats,
    }
  }

  async #close(): Promise<void> {
    await closeHoldings(this.#holdings(), this.#finishing)
    this.#sidecar = null
    this.#mapping = new ArrayBuffer(0)
    this.#state = FileState.Closed
  }

  #checkReadable(): void {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) throw this.#closedError()
  }

  #closedError(): AofkitError {
    return new AofkitError(ErrorCode.Closed, `file '${this.#path}' is closed`, { path: this.#path })
  }

  #throwNotWritable(): never {
    if (this.#data.appending) throw invalidArgument('an append function must not write to the file it is appending to')
    if (this.#state === FileState.EOF) {
      throw new AofkitError(ErrorCode.ReadOnly, `file '${this.#path}' is read-only (finished or without write permission)`, {
        path: this.#path,
      })
    }
    throw this.#closedError()
  }
}
