/**
 * FileReader: a read-only view of an append-only file for any thread or process, following
 * its writer live through the `-shm` sidecar. It reads with pread, never through a mapping, so
 * a file truncated or replaced under it is an error event, never a SIGBUS. It wakes on the
 * inotify event the writer raises while readers wait, or busy-polls if asked. The file and
 * its writer's sidecar, as the reader sees them, are in `followed-file.ts`.
 * @module
 */
import { statSync } from 'node:fs'
import { Readable } from 'node:stream'

import { checkBytes, intervalMs, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { checkRegularFile, openRegularFile } from '../io/regular-file.ts'
import * as native from '../native/binding.ts'
import { FileState } from './file-state.ts'
import { FollowedFile } from './followed-file.ts'
import { ShmIndex } from './shm.ts'
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
  /**
   * When the writer closes the file without finishing it (`state` Closed), or had closed it
   * before this reader opened, wait for a writer to open it again and follow that one, instead
   * of ending: for a consumer that may start, or go on, while its producer is down. Applies to
   * every follower of this reader (`tail()`, `stream()`, `subscribe()`, `nextChange()`,
   * `tailLog`). `state` says Closed while no writer has the file. A finished file (EOF) still
   * ends them, and a writer that died still fails them (`ERR_AOF_WRITER_DIED`). Without it,
   * followers end with `ERR_AOF_WRITER_CLOSED` once they have every committed byte.
   * Default: false.
   */
  waitForWriter?: boolean
}

const FILE_STATE_INDEX = ShmIndex.fileState

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
    const { busyPoll, checkIntervalMs, waitForWriter } = options
    if (busyPoll !== undefined && typeof busyPoll !== 'boolean') throw invalidArgument(`busyPoll must be a boolean, got ${String(busyPoll)}`)
    if (waitForWriter !== undefined && typeof waitForWriter !== 'boolean') {
      throw invalidArgument(`waitForWriter must be a boolean, got ${String(waitForWriter)}`)
    }
    intervalMs(checkIntervalMs, 'checkIntervalMs', 200)
    return new FileReader(path, options)
  }

  readonly #path: string
  readonly #busyPoll: boolean
  readonly #checkIntervalMs: number
  readonly #waitForWriter: boolean
  /** The file, and its writer's sidecar once it has one. */
  readonly #file: FollowedFile
  #failure: Error | null = null
  #closed = false

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
    this.#waitForWriter = options.waitForWriter === true
    let stat
    try {
      stat = statSync(path)
    } catch (error) {
      throw fromSystemError(error, path, 'stat')
    }
    checkRegularFile(path, stat)
    if ((stat.mode & 0o400) === 0) {
      throw new AofkitError(ErrorCode.ReadPermission, `file '${path}' has no read permission`, { path })
    }
    // Without blocking: a FIFO put at the path since the stat is refused, not waited on.
    this.#file = new FollowedFile(path, openRegularFile(path), this.#waitForWriter)
    this.#waiter = this.#newWaiter()
    this.#source = {
      committedSize: () => this.size,
      fileState: () => this.#followedState(),
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

  #newWaiter(): ReaderWaiter {
    return new ReaderWaiter({
      path: this.#path,
      words: this.#file.words,
      readOnly: this.#file.sidecarReadOnly,
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
    const settled = this.#file.settle()
    if (settled === 'attached') this.#renewWaiter()
    return settled === 'pending'
  }

  /** Waits through the sidecar attached now. */
  #renewWaiter(): void {
    this.#waiter.close()
    this.#waiter = this.#newWaiter()
    if (this.#registered) this.#waiter.register()
  }

  /** The path being read. */
  get path(): string {
    return this.#path
  }

  /** Committed data bytes: what the writer has published (or all data, for a file without writer). */
  get size(): number {
    return this.#file.size
  }

  /** True once {@link FileReader.close} was called: nothing more can be read through it. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * The writer's {@link FileState}: Opened while it writes (or sets the file up); EOF once it
   * finished the file, and for a file without a sidecar of its own (read as it is); Closed once
   * its writer closed it without finishing it (it may be written again: see
   * {@link ReaderOptions.waitForWriter}), whether before this reader opened or after; and
   * Closed after this reader's own close() ({@link FileReader.closed} tells which).
   */
  get state(): FileState {
    if (this.#closed) return FileState.Closed
    return this.#file.state
  }

  /** Whether followers wait through a writer's close for the next writer ({@link ReaderOptions.waitForWriter}). */
  get waitForWriter(): boolean {
    return this.#waitForWriter
  }

  /** The state followers act on: with waitForWriter, a file closed unfinished is one still to be written. */
  #followedState(): FileState {
    const state = this.state
    return state === FileState.Closed && this.#waitForWriter && !this.#closed ? FileState.Opened : state
  }

  /**
   * How this reader is woken while it waits for the writer: `'inotify'` unless something
   * stood in the way ({@link ReaderWakeup}). Null until it first waits, and for a file without
   * a live writer, which it reads to the end without waiting.
   */
  get wakeup(): ReaderWakeup | null {
    return this.#waiter.wakeup
  }

  /**
   * The error that ended following, or null: the writer died (`ERR_AOF_WRITER_DIED`), the file
   * was replaced (`ERR_AOF_REPLACED`), or, without waitForWriter, the writer closed the file
   * without finishing it (`ERR_AOF_WRITER_CLOSED`).
   */
  get failure(): Error | null {
    return (this.#failure ??= this.#file.replacedWhenClosed() ?? this.#writerClosed())
  }

  /** Without waitForWriter, the end of following a file whose writer closed it unfinished. */
  #writerClosed(): AofkitError | null {
    if (this.#waitForWriter || this.#closed || this.#file.state !== FileState.Closed) return null
    return new AofkitError(
      ErrorCode.WriterClosed,
      `the writer of '${this.#path}' closed it without finishing it (open the reader with waitForWriter to wait for the next writer)`,
      { path: this.#path },
    )
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
      const read = native.pread(this.#file.fd, target, done, count - done, begin + done)
      if (read === 0) {
        this.#fail(this.#file.truncated())
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
    this.#file.close()
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
   * @internal {@link FileReader.nextChange} without a promise: calls `resume` once at the next
   * change (at once if one came since the last look), unless withdrawn with
   * {@link FileReader.cancelOnNextChange} first. For followers that settle their own promises
   * straight from the wake-up (the journal's); pass the same function each time.
   */
  onNextChange(resume: () => void): void {
    this.#source.wait(resume)
  }

  /** @internal Withdraws a wait of {@link FileReader.onNextChange} that has not run yet. */
  cancelOnNextChange(resume: () => void): void {
    this.#source.cancelWait(resume)
  }

  /**
   * Calls `resume` at the next change (at once if one came since the last look). A reader
   * still registered from an earlier wait, following an open file, has nothing to re-check:
   * every commit since its last look has raised a wake-up.
   */
  #wait(resume: () => void): void {
    this.#waiting.add(resume)
    if (this.#registered && this.#failure === null && this.#followedState() === FileState.Opened) return
    this.#updateWaiting()
    // Registered now: anything committed from now on raises a wake-up. Re-check once, for what
    // was committed before the writer could see us waiting.
    if (this.size !== this.#lastSeenSize || this.#followedState() !== FileState.Opened) this.#onChange()
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
    const file = this.#file
    const words = file.words
    if (this.#closed || words === null) return
    const size = file.size
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
    if (this.#file.pending && this.#settle()) return
    if (this.#waitForWriter && this.#file.state === FileState.Closed) this.#file.reattach(() => this.#renewWaiter())
    const failure = this.#file.check()
    if (failure !== null) {
      this.#fail(failure)
      return
    }
    this.#onChange()
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return
    this.#failure = error
    this.#onChange()
  }
}
