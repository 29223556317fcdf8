/**
 * AppendOnlyFile: a single-writer, memory-mapped append-only file (the seed's AOF).
 *
 * The file is mapped once, at `geometry.sizeUpper`; appends copy into the mapping and never
 * remap. After every write the 8-byte MagicTail follows the data and the committed size is
 * published in the `-shm` sidecar, so a writer killed at any instant loses at most the write in
 * flight. The file grows by real allocation (fallocate) ahead of the writer, on the libuv pool,
 * and the pages it will write next are prefaulted there too.
 * @module
 */
import { closeSync, fchmodSync, writeSync } from 'node:fs'
import { Readable } from 'node:stream'

import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { FileState } from './file-state.ts'
import type { Geometry } from './geometry.ts'
import { GroupSync } from './group-sync.ts'
import { MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL, magicWords } from './magic.ts'
import type { FileResources, OpenOptions, OpenRecovery } from './open-file.ts'
import type { Sidecar } from './shm.ts'
import { ShmOffset } from './shm.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'
import { Tailer, followData, waitForChange } from './tailer.ts'
import { WaitList } from './wait-list.ts'
import type { Consumer, SubscribeOptions, TailOptions, TailSource } from './tailer.ts'
import { defaultManager } from './manager.ts'
import { FileReader } from './reader.ts'
import type { ReaderOptions } from './reader.ts'

/** What an append function receives (the seed's AppendEvent). */
export interface AppendEvent {
  /** Offset where this append begins: the data size before it. */
  readonly begin: number
  /** `begin + reserve`. */
  readonly end: number
  /** A view of the mapping over `[begin, end)` to fill. Valid only during the call. */
  readonly tail: Uint8Array
  /** A view of all data before `begin`. */
  file(): Uint8Array
}

/**
 * Fills `event.tail` and returns how many bytes it used (clamped to `0..reserve`; anything
 * that is not a number counts as 0). It must be synchronous and must not write to the same
 * file. If it throws, nothing is written and the error propagates.
 */
export type AppendFunction = (event: AppendEvent) => number

/** The event append() passes: a class, so no closure is allocated per append. */
class FillEvent implements AppendEvent {
  readonly begin: number
  readonly end: number
  readonly tail: Uint8Array
  readonly #bytes: Uint8Array

  constructor(bytes: Uint8Array, begin: number, end: number) {
    this.begin = begin
    this.end = end
    this.tail = bytes.subarray(begin, end)
    this.#bytes = bytes
  }

  file(): Uint8Array {
    return this.#bytes.subarray(0, this.begin)
  }
}

/** What the manager provides to the files it opens. */
export interface FileOwner {
  readonly stats: StatsRecorder
  readonly readMode: number
  /** Called once the file is closed. */
  release(file: AppendOnlyFile): void
  /** Called when the file was renamed from `previousPath`. */
  renamed(file: AppendOnlyFile, previousPath: string): void
}

const [TAIL_LOW, TAIL_HIGH] = magicWords(MAGIC_TAIL)
const [CHECKPOINT_LOW, CHECKPOINT_HIGH] = magicWords(MAGIC_CHECKPOINT)
const COMMITTED_INDEX = ShmOffset.committedSize / 8
const WAITERS_INDEX = ShmOffset.waiters / 4
const SEQUENCE_INDEX = ShmOffset.commitSequence / 4
const FUTEX_WAITERS_INDEX = ShmOffset.futexWaiters / 4
const WRITE_WATCHERS_INDEX = ShmOffset.writeWatchers / 4
/** The sidecar byte the writer reads (or rewrites) to raise an inotify event for waiting readers. */
const POKE_OFFSET = 4095
const POKE_BYTE = new Uint8Array(1)
/** Largest look-ahead of background growth. */
const AHEAD_MAX = 256 * 1024 * 1024

/** A single-writer, many-reader, memory-mapped append-only file. */
export class AppendOnlyFile {
  /**
   * Opens (or, with `create: true`, creates) an append-only file through the default manager.
   * Synchronous: returns the file, or throws an {@link AofkitError}. Opening a path that is
   * already open through the default manager returns the same instance.
   */
  static open(path: string, options: OpenOptions = {}): AppendOnlyFile {
    return defaultManager().open(path, options)
  }

  /**
   * Opens a read-only follower of `path` for this thread, in any process: it follows the live
   * writer through the `-shm` sidecar, reads a finished file to its end, and reports a writer
   * that died. Synchronous.
   */
  static openReader(path: string, options: ReaderOptions = {}): FileReader {
    return FileReader.open(path, options)
  }

  readonly #owner: FileOwner
  #path: string
  readonly #fd: number
  readonly #anonymous: boolean
  readonly #geometry: Geometry
  readonly #recovery: OpenRecovery
  readonly #mappedBytes: number
  #mapping: ArrayBuffer | SharedArrayBuffer
  #bytes: Uint8Array
  #view: DataView
  #sidecar: Sidecar | null
  /** The sidecar's float fields, or a private stand-in, so the hot path never branches. */
  #published: Float64Array
  /** The sidecar's 32-bit words (readers' waiter count), or a private stand-in. */
  #sharedWords: Int32Array
  /** Tailers polled on commits (not on an interval): with #waiting, the same-thread followers. */
  #commitTailers = 0
  readonly #tailers = new Set<Tailer>()
  readonly #waiting = new WaitList()
  #wakeScheduled = false
  /** The committed size the writer last woke other readers for in this tick, or -1. */
  #pokedSize = -1
  readonly #tailSource: TailSource
  #state: FileState
  #size: number
  #allocated: number
  #lastCheckpoint: number
  #appending = false

  // Background growth.
  #growing: Promise<void> | null = null
  // Prefault jobs on the thread pool; the mapping must outlive them.
  readonly #prefaults = new Set<Promise<void>>()
  #aheadBytes: number
  #lowWater: number

  // Durability.
  readonly #groupSync: GroupSync
  #flushedSize = 0
  #flushing: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #finishing: Promise<void> | null = null

  /** @internal Use {@link AppendOnlyFile.open} or a {@link Manager}. */
  constructor(resources: FileResources, owner: FileOwner) {
    this.#owner = owner
    this.#path = resources.path
    this.#fd = resources.fd
    this.#anonymous = resources.anonymous
    this.#geometry = resources.geometry
    this.#recovery = resources.recovery
    this.#mappedBytes = resources.mappedBytes
    this.#mapping = resources.mapping
    this.#bytes = resources.bytes
    this.#view = new DataView(resources.mapping)
    this.#sidecar = resources.sidecar
    this.#published = resources.sidecar?.floats ?? new Float64Array(ShmOffset.waiters / 8 + 1)
    this.#sharedWords = resources.sidecar?.words ?? new Int32Array(ShmOffset.waiters / 4 + 1)
    this.#tailSource = {
      committedSize: () => this.#size,
      fileState: () => this.#state,
      read: (begin, end) => this.#bytes.subarray(begin, end),
      detach: (tailer) => {
        if (this.#tailers.delete(tailer) && !tailer.polling) this.#commitTailers--
      },
      failure: () => null,
      wait: (resume) => this.#waiting.add(resume),
      cancelWait: (resume) => this.#waiting.delete(resume),
    }
    this.#state = resources.state
    this.#size = resources.size
    this.#allocated = resources.allocated
    this.#lastCheckpoint = resources.lastCheckpoint
    this.#aheadBytes = Math.min(this.#geometry.growthStep, this.#geometry.sizeUpper)
    this.#lowWater = this.#aheadBytes / 2
    this.#groupSync = new GroupSync(
      () => this.#fdatasync(),
      () => this.#size + MAGIC_SIZE,
    )
    this.#flushedSize = resources.size
    if (this.#state === FileState.Opened && !this.#anonymous) {
      // Fault in what is allocated already, on the pool, before the first writes reach it.
      void this.#prefault(this.#size, this.#allocated)
      this.#growAhead()
    }
  }

  /** The path the file was opened with (the name, for an anonymous file). */
  get path(): string {
    return this.#path
  }

  /** Logical data bytes: everything every returned write wrote. */
  get size(): number {
    return this.#size
  }

  /** Bytes of the file on disk: allocated so far (open) or present (finished, read-only). */
  get fileSize(): number {
    return this.#allocated
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
    return this.#lastCheckpoint
  }

  /**
   * A zero-copy view of the data `[begin, end)` (default: all of it). The view reads the
   * mapping itself: it is valid until the file is closed and must not be written to.
   */
  contents(begin = 0, end: number = this.#size): Uint8Array {
    this.#checkReadable()
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin || end > this.#size) {
      throw invalidArgument(`range [${String(begin)}, ${String(end)}) is not within the data [0, ${this.#size})`)
    }
    return this.#bytes.subarray(begin, end)
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
   * Like {@link write}, but never makes a syscall: when the file must grow first it starts that
   * growth in the background and throws `ERR_AOF_WOULD_BLOCK`, writing nothing.
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

  /** Like {@link append}, but throws `ERR_AOF_WOULD_BLOCK` instead of growing the file itself. */
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
    if (this.#state !== FileState.Opened || this.#appending) this.#throwNotWritable()
    if (!Number.isSafeInteger(size) || size < 0 || size + MAGIC_SIZE > this.#geometry.sizeUpper) {
      throw invalidArgument(`size must be a non-negative integer that fits below geometry.sizeUpper, got ${String(size)}`)
    }
    const begin = this.#size
    const end = begin + size
    if (end + MAGIC_SIZE > this.#allocated) this.#makeRoom(end + MAGIC_SIZE, true)
    this.#appending = true
    try {
      fill(this.#bytes, begin)
    } catch (error) {
      this.#undoFill(begin, end)
      throw error
    } finally {
      this.#appending = false
    }
    this.#commit(end)
  }

  /** Writes a MagicCheckpoint into the stream and returns its offset. */
  checkpoint(): number {
    if (this.#state !== FileState.Opened || this.#appending) this.#throwNotWritable()
    const begin = this.#size
    const end = begin + MAGIC_SIZE
    if (end + MAGIC_SIZE > this.#allocated) this.#makeRoom(end + MAGIC_SIZE, true)
    this.#view.setUint32(begin, CHECKPOINT_LOW, true)
    this.#view.setUint32(begin + 4, CHECKPOINT_HIGH, true)
    this.#commit(end)
    this.#lastCheckpoint = begin
    this.#sidecar?.setLastCheckpoint(begin)
    return begin
  }

  /**
   * Starts write-back of the data written since the last flush and resolves once the kernel has
   * queued it. It does not wait for the disk: use {@link sync} for durability.
   */
  flush(): Promise<void> {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) return Promise.reject(this.#closedError())
    if (this.#anonymous || this.#fd < 0) return Promise.resolve()
    if (this.#flushing !== null) return this.#flushing
    const flushing = this.#flush().finally(() => {
      this.#flushing = null
    })
    this.#flushing = flushing
    return flushing
  }

  /**
   * Resolves once every byte written before the call is durable (survives power loss).
   * Concurrent callers share one fdatasync.
   */
  sync(): Promise<void> {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) return Promise.reject(this.#closedError())
    if (this.#anonymous || this.#state !== FileState.Opened) return this.#finishing ?? Promise.resolve()
    return this.#groupSync.sync()
  }

  /**
   * Ends the file: writes a MagicCheckpoint after the data, truncates the file to it, makes it
   * durable and read-only (the manager's `readMode`), and enters the EOF state. Idempotent.
   */
  finish(): Promise<void> {
    if (this.#finishing !== null) return this.#finishing
    if (this.#state === FileState.EOF) return Promise.resolve()
    if (this.#state !== FileState.Opened) return Promise.reject(this.#closedError())
    if (this.#appending) this.#throwNotWritable()
    this.#state = FileState.EOF
    this.#finishing = this.#owner.stats.timeAsync(Operation.finish, () => this.#finish()).finally(() => {
      // Tailers get their last event (eof: true); iterators read to the end and stop.
      this.#wakeFollowers()
    })
    return this.#finishing
  }

  /**
   * Closes the file: waits for background growth, flushes and syncs in flight, then unmaps,
   * releases the lock and closes the descriptor. Views from {@link contents} become empty.
   * Idempotent. Data already written stays in the file; close() does not sync.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing
    if (this.#state === FileState.Closed) return Promise.resolve()
    const startNs = nowNs()
    this.#state = FileState.Closing
    this.#closing = this.#close().finally(() => {
      this.#owner.stats.record(Operation.close, startNs)
      this.#owner.release(this)
    })
    return this.#closing
  }

  /**
   * Follows the file with `consumer` (the seed's Subscribe / SubscribeInterval): it is polled
   * with the data committed since its position, once per tick however many writes happened,
   * or every `intervalMs`. A consumer that returns less than `event.end` is polled again on the
   * next tick; one that throws is closed with that error. finish() delivers a last event with
   * `eof: true`; close() closes every tailer with the reason `'file closed'`.
   */
  subscribe(consumer: Consumer, options: SubscribeOptions = {}): Tailer {
    this.#checkReadable()
    const tailer = new Tailer(this.#tailSource, consumer, options)
    this.#tailers.add(tailer)
    if (!tailer.polling) this.#commitTailers++
    tailer.wake('start')
    return tailer
  }

  /** Polls every tailer on the next tick, whether or not data arrived (the seed's Wake). */
  wake(): void {
    this.#checkReadable()
    for (const tailer of this.#tailers) tailer.wake('wake')
    this.#pokeReaders()
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

  #commit(end: number): void {
    // MagicTail first, then the committed size: a reader or a recovery that sees the size
    // always finds the bytes and the magic before it.
    const view = this.#view
    view.setUint32(end, TAIL_LOW, true)
    view.setUint32(end + 4, TAIL_HIGH, true)
    this.#size = end
    this.#published[COMMITTED_INDEX] = end
    if (end + this.#lowWater > this.#allocated && this.#growing === null) this.#growAhead()
    if (this.#wakeScheduled) return
    const waiters = this.#sharedWords[WAITERS_INDEX]!
    if ((this.#commitTailers | this.#waiting.size | waiters) === 0) return
    this.#scheduleWake()
    // Readers elsewhere are woken by the first commit of a tick at once, not when the tick
    // ends: the rest of the caller's synchronous work would add to their latency. Commits
    // later in the same tick are covered by one more wake-up from #wakeFollowers.
    if (waiters !== 0) {
      this.#pokeReaders()
      this.#pokedSize = end
    }
  }

  #scheduleWake(): void {
    this.#wakeScheduled = true
    queueMicrotask(this.#wakeFollowers)
  }

  /** Polls tailers and resumes iterators once per tick, however many commits it saw. */
  readonly #wakeFollowers = (): void => {
    this.#wakeScheduled = false
    if (this.#tailers.size > 0) {
      for (const tailer of this.#tailers) if (!tailer.polling) tailer.poll('write')
    }
    this.#waiting.resumeAll()
    if (this.#pokedSize !== this.#size) this.#pokeReaders()
    this.#pokedSize = -1
  }

  /** Wakes readers in other threads and processes: an inotify event, and a futex wake if needed. */
  #pokeReaders(): void {
    const sidecar = this.#sidecar
    if (sidecar === null || Atomics.load(sidecar.words, WAITERS_INDEX) === 0) return
    Atomics.add(sidecar.words, SEQUENCE_INDEX, 1)
    // A futex wake is a system call (about 1.5 µs): only for readers that sleep in one.
    if (Atomics.load(sidecar.words, FUTEX_WAITERS_INDEX) !== 0) native.futexWake(sidecar.words, SEQUENCE_INDEX)
    try {
      // Reading a byte raises IN_ACCESS for aofkit's own watch at a third of the cost of a
      // write (0.6 µs against 1.7), which also dirties the page and the timestamps; fs.watch
      // does not report reads, so readers on it ask for the write.
      if (Atomics.load(sidecar.words, WRITE_WATCHERS_INDEX) === 0) native.pread(sidecar.fd, POKE_BYTE, 0, 1, POKE_OFFSET)
      else writeSync(sidecar.fd, POKE_BYTE, 0, 1, POKE_OFFSET)
    } catch {
      // Readers also poll the sidecar on a timer; a failed poke only delays them.
    }
  }

  #write(bytes: Uint8Array, blocking: boolean): number {
    if (this.#state !== FileState.Opened || this.#appending) this.#throwNotWritable()
    if (!(bytes instanceof Uint8Array)) throw invalidArgument('bytes must be a Uint8Array or Buffer')
    const begin = this.#size
    const end = begin + bytes.length
    if (end + MAGIC_SIZE > this.#allocated) this.#makeRoom(end + MAGIC_SIZE, blocking)
    this.#bytes.set(bytes, begin)
    this.#commit(end)
    return bytes.length
  }

  #append(reserve: number, fn: AppendFunction, blocking: boolean): number {
    if (this.#state !== FileState.Opened || this.#appending) this.#throwNotWritable()
    if (typeof fn !== 'function') {
      throw new AofkitError(ErrorCode.AppendFuncMissing, 'append needs a function to fill the reserved bytes')
    }
    if (!Number.isSafeInteger(reserve) || reserve < 0) {
      throw invalidArgument(`reserve must be a non-negative integer, got ${String(reserve)}`)
    }
    if (reserve + MAGIC_SIZE > this.#geometry.sizeUpper) {
      throw invalidArgument(`reserve ${reserve} can never fit below geometry.sizeUpper ${this.#geometry.sizeUpper}`)
    }
    const begin = this.#size
    const end = begin + reserve
    if (end + MAGIC_SIZE > this.#allocated) this.#makeRoom(end + MAGIC_SIZE, blocking)
    const bytes = this.#bytes
    let used: unknown
    this.#appending = true
    try {
      used = fn(new FillEvent(bytes, begin, end))
    } catch (error) {
      this.#undoFill(begin, end)
      throw error
    } finally {
      this.#appending = false
    }
    let count = typeof used === 'number' && used > 0 ? Math.floor(used) : 0
    if (count > reserve) count = reserve
    if (count < reserve) bytes.fill(0, begin + count, end)
    this.#commit(begin + count)
    return count
  }

  /** Erases what a failed fill scribbled over `[begin, end)`, including the MagicTail at `begin`. */
  #undoFill(begin: number, end: number): void {
    this.#bytes.fill(0, begin, end)
    this.#view.setUint32(begin, TAIL_LOW, true)
    this.#view.setUint32(begin + 4, TAIL_HIGH, true)
  }

  /** Ensures `needed` bytes are allocated, or throws FULL / NO_SPACE / WOULD_BLOCK. */
  #makeRoom(needed: number, blocking: boolean): void {
    if (needed > this.#geometry.sizeUpper) {
      throw new AofkitError(
        ErrorCode.Full,
        `file '${this.#path}' is full: ${needed} bytes needed, geometry.sizeUpper is ${this.#geometry.sizeUpper}`,
        { path: this.#path },
      )
    }
    // The writer caught up with background growth: look further ahead from now on.
    if (this.#aheadBytes < AHEAD_MAX) {
      this.#aheadBytes = Math.min(this.#aheadBytes * 2, AHEAD_MAX, this.#geometry.sizeUpper)
      this.#lowWater = this.#aheadBytes / 2
    }
    if (!blocking) {
      this.#growAhead()
      throw new AofkitError(ErrorCode.WouldBlock, `file '${this.#path}' must grow before this write`, {
        path: this.#path,
      })
    }
    const from = this.#allocated
    // As far ahead as background growth would go: one synchronous fallocate per catch-up.
    const target = Math.max(this.#geometry.next(needed), this.#aheadTarget(from))
    const stats = this.#owner.stats
    const startNs = nowNs()
    try {
      native.fallocate(this.#fd, from, target - from)
    } catch (error) {
      // The step does not fit: try just what this write needs before giving up.
      const minimal = Math.min(Math.ceil(needed / this.#geometry.pageSize) * this.#geometry.pageSize, target)
      try {
        if (minimal >= target) throw error
        native.fallocate(this.#fd, from, minimal - from)
        this.#setAllocated(minimal)
        stats.record(Operation.truncate, startNs, true)
        return
      } catch (retryError) {
        stats.record(Operation.truncate, startNs, false)
        throw fromSystemError(retryError, this.#path, 'allocate')
      }
    }
    stats.record(Operation.truncate, startNs, true)
    this.#setAllocated(target)
    // A writer in a synchronous burst never lets background growth finish: fault the new pages
    // in on the thread pool now, while it writes, so its stores do not page-fault one by one.
    void this.#prefault(from, target)
  }

  #setAllocated(size: number): void {
    if (size <= this.#allocated) return
    this.#owner.stats.add('activeFileSize', size - this.#allocated)
    this.#allocated = size
    this.#sidecar?.setAllocatedSize(size)
  }

  /** Starts background growth (and prefaulting) so that the writer stays ahead. */
  #growAhead(): void {
    if (this.#growing !== null || this.#state !== FileState.Opened || this.#anonymous) return
    const from = this.#allocated
    const target = this.#aheadTarget(from)
    if (target <= from) return
    this.#growing = this.#grow(from, target).finally(() => {
      this.#growing = null
    })
  }

  async #grow(from: number, target: number): Promise<void> {
    // Called by #growAhead only when target > from.
    const stats = this.#owner.stats
    const startNs = nowNs()
    try {
      await native.fallocateAsync(this.#fd, from, target - from)
      stats.record(Operation.truncate, startNs, true)
      if (this.#state === FileState.Opened) this.#setAllocated(target)
    } catch {
      // A blocking write will meet the same condition and report it; nothing to do here.
      stats.record(Operation.truncate, startNs, false)
      return
    }
    if (this.#state !== FileState.Opened) return
    await this.#prefault(from, target)
  }

  /** Where growth ahead of the writer ends: `aheadBytes` past the data, in geometry steps. */
  #aheadTarget(from: number): number {
    const want = Math.min(this.#geometry.sizeUpper, this.#size + MAGIC_SIZE + this.#aheadBytes)
    let target = from
    while (target < want) {
      const next = this.#geometry.next(target)
      if (next <= target) break
      target = next
    }
    return target
  }

  /**
   * Touches the pages of `[from, to)` on the thread pool (MADV_POPULATE_WRITE), not on the main
   * thread, so the writer's stores find them mapped. Close and finish wait for it.
   */
  #prefault(from: number, to: number): Promise<void> {
    const populate = native.advice.populateWrite
    const pageSize = this.#geometry.pageSize
    const begin = Math.floor(from / pageSize) * pageSize
    if (populate < 0 || this.#anonymous || to <= begin) return Promise.resolve()
    const job = native.madviseAsync(this.#mapping as ArrayBuffer, begin, to - begin, populate).then(
      () => undefined,
      () => undefined,
    )
    this.#prefaults.add(job)
    void job.then(() => this.#prefaults.delete(job))
    return job
  }

  async #fdatasync(): Promise<void> {
    const startNs = nowNs()
    try {
      await native.fdatasyncAsync(this.#fd)
      this.#owner.stats.record(Operation.sync, startNs, true)
    } catch (error) {
      this.#owner.stats.record(Operation.sync, startNs, false)
      throw fromSystemError(error, this.#path, 'sync')
    }
  }

  async #flush(): Promise<void> {
    const end = this.#size + MAGIC_SIZE
    const pageSize = this.#geometry.pageSize
    const begin = Math.floor(Math.min(this.#flushedSize, this.#size) / pageSize) * pageSize
    if (end <= begin) return
    const startNs = nowNs()
    try {
      await native.syncFileRangeAsync(this.#fd, begin, end - begin).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOSYS') throw error
        return native.msyncAsync(this.#mapping as ArrayBuffer, begin, end - begin, false)
      })
      this.#flushedSize = Math.max(this.#flushedSize, end - MAGIC_SIZE)
      this.#owner.stats.record(Operation.flush, startNs, true)
    } catch (error) {
      this.#owner.stats.record(Operation.flush, startNs, false)
      throw fromSystemError(error, this.#path, 'flush')
    }
  }

  async #finish(): Promise<void> {
    await this.#growing
    await Promise.all(this.#prefaults)
    const end = this.#size + MAGIC_SIZE
    this.#view.setUint32(this.#size, CHECKPOINT_LOW, true)
    this.#view.setUint32(this.#size + 4, CHECKPOINT_HIGH, true)
    if (this.#anonymous) return
    const stats = this.#owner.stats
    stats.time(Operation.truncate, () => {
      try {
        native.ftruncate(this.#fd, end)
      } catch (error) {
        throw fromSystemError(error, this.#path, 'truncate')
      }
    })
    stats.add('activeFileSize', end - this.#allocated)
    this.#allocated = end
    await this.#groupSync.idle()
    await this.#fdatasync()
    stats.time(Operation.chmod, () => {
      try {
        fchmodSync(this.#fd, this.#owner.readMode)
      } catch (error) {
        throw fromSystemError(error, this.#path, 'chmod')
      }
    })
    const sidecar = this.#sidecar
    if (sidecar !== null) {
      sidecar.setAllocatedSize(end)
      // Readers are woken once finish() settles (#wakeFollowers).
      sidecar.setFileState(FileState.EOF)
    }
  }

  async #close(): Promise<void> {
    for (const tailer of [...this.#tailers]) tailer.close('file closed')
    this.#wakeFollowers()
    await this.#finishing?.catch(() => undefined)
    await this.#growing
    await Promise.all(this.#prefaults)
    await this.#groupSync.idle()
    await this.#flushing?.catch(() => undefined)
    const stats = this.#owner.stats
    const sidecar = this.#sidecar
    if (sidecar !== null) {
      sidecar.setWriterPid(0)
      sidecar.setFileState(FileState.Closed)
      this.#pokeReaders()
      sidecar.close()
      this.#sidecar = null
    }
    if (!this.#anonymous) {
      stats.time(Operation.unmap, () => native.unmap(this.#mapping as ArrayBuffer))
      closeSync(this.#fd)
      stats.add('activeMappedMemory', -this.#mappedBytes)
      stats.add('activeFileSize', -this.#allocated)
    } else {
      stats.add('activeAnonymousMemory', -this.#mappedBytes)
    }
    stats.add('activeMaps', -1)
    this.#bytes = new Uint8Array(0)
    this.#mapping = new ArrayBuffer(0)
    this.#view = new DataView(this.#mapping)
    this.#state = FileState.Closed
  }

  #checkReadable(): void {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) throw this.#closedError()
  }

  #closedError(): AofkitError {
    return new AofkitError(ErrorCode.Closed, `file '${this.#path}' is closed`, { path: this.#path })
  }

  #throwNotWritable(): never {
    if (this.#appending) throw invalidArgument('an append function must not write to the file it is appending to')
    if (this.#state === FileState.EOF) {
      throw new AofkitError(ErrorCode.ReadOnly, `file '${this.#path}' is read-only (finished or without write permission)`, {
        path: this.#path,
      })
    }
    throw this.#closedError()
  }
}
