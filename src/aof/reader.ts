/**
 * FileReader: a read-only view of an append-only file for any thread or process, following
 * its writer live through the `-shm` sidecar. It reads with pread, never through a mapping, so
 * a file truncated or replaced under it is an error event, never a SIGBUS. It wakes on the
 * inotify event the writer raises while readers wait, or busy-polls if asked.
 * @module
 */
import { closeSync, fstatSync, statSync } from 'node:fs'
import { Readable } from 'node:stream'

import { checkBytes, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { openRegularFile } from '../io/regular-file.ts'
import * as native from '../native/binding.ts'
import { FileState } from './file-state.ts'
import { writerHolds } from './liveness.ts'
import { sameFile } from './reconcile.ts'
import { alignToPage, SIZE_UPPER_MAX } from './geometry.ts'
import { recoverFromEnd, recoverWithMagic } from './recovery.ts'
import { HEAD_SIZE, ShmIndex, Sidecar, fileIdentity, parseSidecar } from './shm.ts'
import type { FileIdentity } from './shm.ts'
import { followData, waitForChange } from './follow-data.ts'
import type { TailOptions } from './follow-data.ts'
import type { TailSource } from './tail-source.ts'
import { Tailer } from './tailer.ts'
import { ReaderWaiter } from './wake-up.ts'
import type { ReaderWakeup } from './wake-up.ts'
import { WaitList } from './wait-list.ts'
import type { Consumer, SubscribeOptions } from './tailer.ts'

/** Options of {@link FileReader.open}. */
export interface ReaderOptions {
  /**
   * Spin on the committed size instead of sleeping until the writer's wake-up: the lowest
   * latency, at the price of a busy core while waiting. Default: false.
   */
  busyPoll?: boolean
  /**
   * How often a waiting reader checks that its writer lives and its file is intact (ms), and
   * looks for data a lost wake-up would have announced. Default: 200; at most 2^31 − 1.
   */
  checkIntervalMs?: number
}

const FILE_STATE_INDEX = ShmIndex.fileState
const COMMITTED_INDEX = ShmIndex.committedSize

/** A read-only follower of an append-only file, usable from any thread or process. */
export class FileReader {
  /**
   * Opens `path` for reading. Throws `ERR_AOF_NOT_FOUND`, `ERR_AOF_IS_DIRECTORY`,
   * `ERR_AOF_NOT_REGULAR_FILE`, `ERR_AOF_READ_PERMISSION`, `ERR_AOF_BAD_SIDECAR`.
   */
  static open(path: string, given?: ReaderOptions): FileReader {
    if (typeof path !== 'string' || path.length === 0) {
      throw invalidArgument('path must be a non-empty string')
    }
    const options = optionsOf(given)
    const { busyPoll, checkIntervalMs } = options
    if (busyPoll !== undefined && typeof busyPoll !== 'boolean') throw invalidArgument(`busyPoll must be a boolean, got ${String(busyPoll)}`)
    // A timer's longest delay: past it, Node fires every millisecond instead.
    if (checkIntervalMs !== undefined && !(typeof checkIntervalMs === 'number' && checkIntervalMs > 0 && checkIntervalMs <= 2 ** 31 - 1)) {
      throw invalidArgument(`checkIntervalMs must be a number of ms in (0, 2^31 - 1], got ${String(checkIntervalMs)}`)
    }
    return new FileReader(path, options)
  }

  readonly #path: string
  readonly #fd: number
  readonly #inode: number
  readonly #device: number
  readonly #owner: number
  readonly #identity: FileIdentity
  readonly #busyPoll: boolean
  readonly #checkIntervalMs: number
  #sidecar: Sidecar | null = null
  /** The sidecar is mapped read-only: its writer runs as another user (ReaderWaiter). */
  #sidecarReadOnly = false
  #words: Int32Array | null = null
  #floats: Float64Array | null = null
  /** Size and state when there is no live writer to follow. */
  #staticSize = 0
  /**
   * A writer holds the file but has not set up its sidecar yet (or the file is still empty):
   * the reader follows it as open, and attaches to the sidecar at its next check.
   */
  #pending = false
  #failure: Error | null = null
  #closed = false
  /** The writer's close was seen and the path checked (once) for a replacement. */
  #closeChecked = false

  readonly #tailers = new Set<Tailer>()
  /**
   * Followers waiting for the next change. Resuming them leaves the reader registered: a
   * follower just resumed nearly always waits again at once, and unregistering only to
   * register again would put four calls into C++ and two shared writes on every wake-up. A
   * cancelled wait, close() or the check timer settles it.
   */
  readonly #waiting = new WaitList()
  #registered = false
  #waiter: ReaderWaiter
  #checkTimer: NodeJS.Timeout | null = null
  #lastSeenSize = -1
  readonly #source: TailSource

  private constructor(path: string, options: ReaderOptions) {
    this.#path = path
    this.#busyPoll = options.busyPoll === true
    this.#checkIntervalMs = options.checkIntervalMs ?? 200
    let stat
    try {
      stat = statSync(path)
    } catch (error) {
      throw fromSystemError(error, path, 'stat')
    }
    if (stat.isDirectory()) throw new AofkitError(ErrorCode.IsDirectory, `path '${path}' is a directory`, { path })
    if (!stat.isFile()) {
      throw new AofkitError(ErrorCode.NotRegularFile, `path '${path}' is not a regular file (a FIFO, device or socket)`, { path })
    }
    if ((stat.mode & 0o400) === 0) {
      throw new AofkitError(ErrorCode.ReadPermission, `file '${path}' has no read permission`, { path })
    }
    // Without blocking: a FIFO put at the path since the stat is refused, not waited on.
    this.#fd = openRegularFile(path)
    try {
      const opened = fstatSync(this.#fd)
      this.#inode = opened.ino
      this.#device = opened.dev
      this.#owner = opened.uid
      this.#identity = fileIdentity(this.#fd)
      const attached = this.#attachSidecar()
      if (attached !== 'attached') {
        if (attached === 'none' && this.#writerSettingUp(opened.size)) this.#pending = true
        else this.#recoverStatic(opened.size)
      }
    } catch (error) {
      this.#sidecar?.close()
      closeSync(this.#fd)
      throw error
    }
    this.#waiter = this.#newWaiter()
    this.#source = {
      committedSize: () => this.size,
      fileState: () => this.state,
      // Followers ask only for committed ranges: no argument checks on their wake-up path.
      read: (begin, end) => this.#readRange(begin, end),
      detach: (tailer) => {
        this.#tailers.delete(tailer)
        this.#updateWaiting()
      },
      failure: () => this.failure,
      wait: (resume) => this.#wait(resume),
      cancelWait: (resume) => {
        this.#waiting.delete(resume)
        this.#updateWaiting()
      },
    }
  }

  /**
   * Maps the sidecar if it belongs to this very file (device, inode, birth time and first bytes)
   * and a writer has (or had) it open; read-only when this user may not write it. True when it
   * did; `'finished'` when the page is this file's and says its writer finished it. Throws
   * `ERR_AOF_BAD_SIDECAR` when what stands at `<file>-shm` is not a sidecar.
   */
  #attachSidecar(): 'attached' | 'finished' | 'none' {
    const opened = Sidecar.openForReader(this.#path, this.#owner)
    if (opened === null) return 'none'
    const { sidecar, writable } = opened
    const page = parseSidecar(sidecar.words, sidecar.floats)
    let belongs = page !== null && (page.fileState === FileState.Opened || page.fileState === FileState.EOF)
    if (belongs) {
      const head = new Uint8Array(HEAD_SIZE)
      const fileSize = fstatSync(this.#fd).size
      const count = Math.min(HEAD_SIZE, fileSize)
      for (let done = 0; done < count; ) {
        const read = native.pread(this.#fd, head, done, count - done, done)
        if (read === 0) break
        done += read
      }
      belongs = sameFile(page!, this.#identity, head, count)
    }
    if (!belongs || page!.fileState === FileState.EOF) {
      sidecar.close()
      return belongs ? 'finished' : 'none'
    }
    this.#sidecar = sidecar
    this.#sidecarReadOnly = !writable
    this.#words = sidecar.words
    this.#floats = sidecar.floats
    return 'attached'
  }

  /**
   * Whether the file, without a sidecar of its own yet, is being set up by a writer: one holds
   * it, or it is still empty (a writer allocates its file before anything else, so an empty
   * file is one whose writer has not started).
   */
  #writerSettingUp(fileSize: number): boolean {
    return fileSize === 0 || writerHolds(this.#fd, 0)
  }

  #newWaiter(): ReaderWaiter {
    return new ReaderWaiter({
      path: this.#path,
      words: this.#words,
      readOnly: this.#sidecarReadOnly,
      busyPoll: this.#busyPoll,
      checkIntervalMs: this.#checkIntervalMs,
      onWake: this.#onWake,
      onSpin: () => {
        if (this.size !== this.#lastSeenSize) this.#onChange()
      },
    })
  }

  /**
   * A pending reader's check: attach to the sidecar once the writer has made it, or read the
   * file as it is once no writer holds it. True when still pending.
   */
  #settle(): boolean {
    const attached = this.#attachSidecar()
    if (attached === 'attached') {
      this.#pending = false
      // Wait through the live sidecar from now on.
      this.#waiter.close()
      this.#waiter = this.#newWaiter()
      if (this.#registered) this.#waiter.register()
      return false
    }
    const fileSize = fstatSync(this.#fd).size
    if (attached === 'none' && this.#writerSettingUp(fileSize)) return true
    this.#pending = false
    this.#recoverStatic(fileSize)
    return false
  }

  /**
   * No live writer: find the data's end once, by recovery, without modifying anything. A file
   * larger than any mapping is read at its end instead; past 256 MiB of zeros there, it is
   * taken to hold no data (a writer never allocates that far ahead).
   */
  #recoverStatic(fileSize: number): void {
    if (fileSize === 0) return
    if (fileSize <= SIZE_UPPER_MAX) {
      const mapping = native.map(this.#fd, alignToPage(fileSize), false)
      try {
        this.#staticSize = recoverWithMagic(fileSize, new Uint8Array(mapping), undefined).tail
      } finally {
        native.unmap(mapping)
      }
      return
    }
    const read = (target: Uint8Array, position: number): void => {
      for (let done = 0; done < target.length; ) {
        const count = native.pread(this.#fd, target, done, target.length - done, position + done)
        if (count === 0) throw new AofkitError(ErrorCode.Replaced, `file '${this.#path}' was truncated under its reader`, { path: this.#path })
        done += count
      }
    }
    this.#staticSize = recoverFromEnd(fileSize, read, undefined, { zerosMax: 256 << 20 }).tail
  }

  /** The path being read. */
  get path(): string {
    return this.#path
  }

  /** Committed data bytes: what the writer has published (or all data, for a file without writer). */
  get size(): number {
    const floats = this.#floats
    return floats === null ? this.#staticSize : floats[COMMITTED_INDEX]!
  }

  /** True once {@link FileReader.close} was called: nothing more can be read through it. */
  get closed(): boolean {
    return this.#closed
  }

  /** The writer's {@link FileState}: Opened while it writes, EOF once finished, Closed after close. */
  get state(): FileState {
    if (this.#closed) return FileState.Closed
    if (this.#pending) return FileState.Opened
    const words = this.#words
    // Without a live writer's sidecar the file is read as it is: finished.
    if (words === null) return FileState.EOF
    const state = Atomics.load(words, FILE_STATE_INDEX)
    return state === FileState.Opened || state === FileState.EOF ? state : FileState.Closed
  }

  /**
   * How this reader is woken while it waits for the writer: `'inotify'` unless something
   * stood in the way ({@link ReaderWakeup}). Null until it first waits, and for a file without
   * a live writer, which it reads to the end without waiting.
   */
  get wakeup(): ReaderWakeup | null {
    return this.#waiter.wakeup
  }

  /** The error that ended following (writer died, file replaced), or null. */
  get failure(): Error | null {
    return this.#failure ?? this.#replacedWhenClosed()
  }

  /** Reads `[begin, end)` of the data into a new buffer. Never reads past the committed size. */
  read(begin: number, end: number): Uint8Array {
    this.#checkOpen()
    const committed = this.size
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin || end > committed) {
      throw invalidArgument(`range [${begin}, ${end}) is not within the data [0, ${committed})`)
    }
    return this.#readRange(begin, end)
  }

  #readRange(begin: number, end: number): Uint8Array {
    this.#checkOpen()
    const buffer = Buffer.allocUnsafe(end - begin)
    this.#readFully(buffer, buffer.length, begin)
    return buffer
  }

  /**
   * Reads the data from `begin` into `target`, as much as fits and is committed, and returns
   * the byte count (0 at the committed end). For readers that reuse one buffer.
   */
  readInto(target: Uint8Array, begin: number): number {
    this.#checkOpen()
    checkBytes(target, 'target')
    const committed = this.size
    if (!Number.isSafeInteger(begin) || begin < 0 || begin > committed) {
      throw invalidArgument(`offset ${begin} is not within the data [0, ${committed}]`)
    }
    const count = Math.min(target.length, committed - begin)
    this.#readFully(target, count, begin)
    return count
  }

  #readFully(target: Uint8Array, count: number, begin: number): void {
    let done = 0
    while (done < count) {
      const read = native.pread(this.#fd, target, done, count - done, begin + done)
      if (read === 0) {
        this.#fail(new AofkitError(ErrorCode.Replaced, `file '${this.#path}' was truncated under its reader`, { path: this.#path }))
        throw this.#failure!
      }
      done += read
    }
  }

  /** Follows the file with `consumer`, as {@link AppendOnlyFile.subscribe} does. */
  subscribe(consumer: Consumer, options: SubscribeOptions = {}): Tailer {
    this.#checkOpen()
    const tailer = Tailer.create(this.#source, consumer, options)
    this.#tailers.add(tailer)
    this.#updateWaiting()
    tailer.wake('start')
    return tailer
  }

  /** The data as it is written, as an async iterator; ends at EOF, stops on the signal. */
  tail(options: TailOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    this.#checkOpen()
    return followData(this.#source, options)
  }

  /** The data as it is written, as a byte stream. */
  stream(options: TailOptions = {}): Readable {
    return Readable.from(this.tail(options), { objectMode: false })
  }

  /** Stops following: tailers close with the reason 'reader closed'; iterators end. */
  close(): void {
    if (this.#closed) return
    for (const tailer of [...this.#tailers]) tailer.close('reader closed')
    this.#closed = true
    this.#updateWaiting()
    this.#waiter.close()
    if (this.#checkTimer !== null) clearInterval(this.#checkTimer)
    this.#checkTimer = null
    this.#waiting.resumeAll()
    this.#sidecar?.close()
    closeSync(this.#fd)
  }

  #checkOpen(): void {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, `reader of '${this.#path}' is closed`, { path: this.#path })
  }

  /**
   * Resolves at the next change a follower cares about: data committed, the file finished or
   * closed (and, for a reader, the writer gone or the file replaced). Check the size and state
   * first, then wait: a change after the check still resolves the wait. The building block of
   * `tail()` and of the record log's `tailLog`.
   * @param signal - Rejects the wait with an AbortError when aborted.
   */
  nextChange(signal?: AbortSignal): Promise<void> {
    return waitForChange(this.#source, signal)
  }

  /**
   * Calls `resume` at the next change (at once if one came since the last look). A reader
   * still registered from an earlier wait, following an open file, has nothing to re-check:
   * every commit since its last look has raised a wake-up.
   */
  #wait(resume: () => void): void {
    this.#waiting.add(resume)
    if (this.#registered && this.#failure === null && this.state === FileState.Opened) return
    this.#updateWaiting()
    // Registered now: anything committed from now on raises a wake-up. Re-check once, for what
    // was committed before the writer could see us waiting.
    if (this.size !== this.#lastSeenSize || this.state !== FileState.Opened) this.#onChange()
  }

  /**
   * Starts or stops waiting for the writer, depending on whether anyone follows. Registration
   * outlives a wake-up (see #waiting); when it ends, the check timer is merely unreferenced
   * while nobody waits, as the watch is ({@link ReaderWaiter}).
   */
  #updateWaiting(): void {
    const wanted = !this.#closed && (this.#tailers.size > 0 || this.#waiting.size > 0)
    if (wanted === this.#registered) return
    this.#registered = wanted
    if (wanted) {
      this.#waiter.register()
      this.#checkTimer ??= setInterval(() => this.#check(), this.#checkIntervalMs)
      this.#checkTimer.ref()
    } else if (this.#closed) {
      this.#waiter.close()
      if (this.#checkTimer !== null) clearInterval(this.#checkTimer)
      this.#checkTimer = null
    } else {
      this.#waiter.unregister()
      this.#checkTimer?.unref()
    }
  }

  /**
   * The writer's wake-up (the inotify watch on the sidecar). New data in an open file takes
   * the short path, straight to the tailers and the waiting iterators; anything else goes
   * through #onChange. In another process this runs as the thread wakes, on caches the
   * machine has used for something else meanwhile, where each function and object it touches
   * costs (docs/PERFORMANCE.md, "The scheduler and cross-process latency").
   */
  readonly #onWake = (): void => {
    const floats = this.#floats
    const words = this.#words
    if (this.#closed || floats === null || words === null) return
    const size = floats[COMMITTED_INDEX]!
    if (size === this.#lastSeenSize || this.#failure !== null || Atomics.load(words, FILE_STATE_INDEX) !== FileState.Opened) {
      this.#onChange()
      return
    }
    this.#lastSeenSize = size
    for (const tailer of this.#tailers) tailer.offer(size)
    this.#waiting.resumeAll()
  }

  /** New data or a new state: poll tailers, resume iterators. */
  #onChange(): void {
    if (this.#closed) return
    this.#lastSeenSize = this.size
    for (const tailer of this.#tailers) if (!tailer.polling) tailer.poll('write')
    this.#waiting.resumeAll()
  }

  /** Periodic: writer alive, file intact; then a poll in case a wake-up was missed. */
  #check(): void {
    // Nobody waited again since the last wake-up: stop counting as a waiter, unref the watcher.
    this.#updateWaiting()
    if (this.#closed || this.#failure !== null) return
    if (this.#pending && this.#settle()) return
    const words = this.#words
    const lost = this.#sidecarLoss()
    if (lost !== null) {
      this.#fail(lost)
      return
    }
    if (words !== null && this.state === FileState.Opened) {
      // Judged by the lock the writer holds, not by its pid, which may name another process
      // (or none) in another PID namespace.
      const pid = Atomics.load(words, ShmIndex.writerPid)
      if (!writerHolds(this.#fd, pid)) {
        this.#fail(new AofkitError(ErrorCode.WriterDied, `the writer of '${this.#path}' (pid ${pid}) is gone`, { path: this.#path }))
        return
      }
    }
    try {
      const current = statSync(this.#path)
      if (current.ino !== this.#inode || current.dev !== this.#device) throw new Error('replaced')
      if (fstatSync(this.#fd).size < this.size) throw new Error('truncated')
    } catch (error) {
      this.#fail(
        new AofkitError(ErrorCode.Replaced, `file '${this.#path}' was truncated, replaced or deleted under its reader`, {
          path: this.#path,
          cause: error,
        }),
      )
      return
    }
    this.#onChange()
  }

  /**
   * When the writer closed, tells whether it did so because its file was replaced (a state
   * log's compaction renames a new file over it, then closes the old one): a follower must then
   * fail with ERR_AOF_REPLACED rather than end as if the log were complete. Checked once.
   */
  #replacedWhenClosed(): Error | null {
    const words = this.#words
    if (this.#closeChecked || words === null) return null
    const state = Atomics.load(words, FILE_STATE_INDEX)
    if (state === FileState.Opened || state === FileState.EOF) return null
    this.#closeChecked = true
    const lost = this.#sidecarLoss()
    if (lost !== null) {
      this.#failure = lost
      return lost
    }
    let current
    try {
      current = statSync(this.#path)
    } catch {
      current = null
    }
    if (current !== null && current.ino === this.#inode && current.dev === this.#device) return null
    this.#failure = new AofkitError(ErrorCode.Replaced, `file '${this.#path}' was replaced or deleted under its reader`, {
      path: this.#path,
    })
    return this.#failure
  }

  /**
   * The error to end with when the sidecar was truncated under the reader: its page reads as
   * zeros since (the addon's SIGBUS guard), so the state and size it shows mean nothing.
   */
  #sidecarLoss(): AofkitError | null {
    const mapping = this.#sidecar?.mapping ?? null
    if (mapping === null || this.#closed || native.faults(mapping) === 0) return null
    return new AofkitError(ErrorCode.Replaced, `the sidecar of '${this.#path}' was truncated under its reader`, { path: this.#path })
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return
    this.#failure = error
    this.#onChange()
  }
}
