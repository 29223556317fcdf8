/**
 * The wake-up protocol: how a writer wakes the followers of its file, and how a reader in
 * another thread or process waits to be woken.
 *
 * In the writer's thread, tailers and waiting iterators are polled once per tick, however many
 * commits it held. Elsewhere, a waiting reader counts itself in the sidecar's `waiters` word
 * (and, when its watch sees writes only, in `writeWatchers`) and watches the sidecar file; while
 * `waiters` is not 0, the writer bumps `commitSequence` and pokes the sidecar at each tick that
 * committed: it reads one byte of it (an inotify IN_ACCESS event), or rewrites it for watches
 * that see only writes, and makes a futex wake for readers blocked in one (`futexWaiters`).
 * Readers also check the sidecar on a timer, so a lost poke only delays them.
 * @module
 */
import { watch, writeSync } from 'node:fs'

import * as native from '../native/binding.ts'
import type { Sidecar } from './shm.ts'
import { ShmIndex, sidecarPath } from './shm.ts'
import type { TailSource } from './tail-source.ts'
import type { Tailer } from './tailer.ts'
import { WaitList } from './wait-list.ts'

const WAITERS = ShmIndex.waiters
const SEQUENCE = ShmIndex.commitSequence
const FUTEX_WAITERS = ShmIndex.futexWaiters
const WRITE_WATCHERS = ShmIndex.writeWatchers
/** The sidecar byte the writer reads (or rewrites) to raise an inotify event for waiting readers. */
const POKE_OFFSET = 4095
const POKE_BYTE = new Uint8Array(1)

/**
 * Wakes the readers of `sidecar` waiting in other threads and processes, if there are any: an
 * inotify event, and a futex wake for those blocked in one. System calls: it is never made on
 * behalf of a file nobody waits for.
 */
export function pokeReaders(sidecar: Sidecar | null): void {
  if (sidecar === null || Atomics.load(sidecar.words, WAITERS) === 0) return
  const words = sidecar.words
  Atomics.add(words, SEQUENCE, 1)
  // A futex wake is a system call (about 1.5 µs): only for readers that sleep in one.
  if (Atomics.load(words, FUTEX_WAITERS) !== 0) native.futexWake(words, SEQUENCE)
  try {
    // Reading a byte raises IN_ACCESS for aofkit's own watch at a third of the cost of a
    // write (0.6 µs against 1.7), which also dirties the page and the timestamps; fs.watch
    // does not report reads, so readers on it ask for the write.
    if (Atomics.load(words, WRITE_WATCHERS) === 0) native.pread(sidecar.fd, POKE_BYTE, 0, 1, POKE_OFFSET)
    else writeSync(sidecar.fd, POKE_BYTE, 0, 1, POKE_OFFSET)
  } catch {
    // Readers also poll the sidecar on a timer; a failed poke only delays them.
  }
}

/**
 * The writer's side: its followers in this thread (tailers polled on commits, waiting
 * iterators) and, through the sidecar, its readers elsewhere. Every commit calls
 * {@link WriterWakeups.committed}; the followers are woken once, at the end of the tick.
 */
export class WriterWakeups {
  readonly #tailers = new Set<Tailer>()
  /** Tailers polled on commits (not on an interval): with #waiting, the same-thread followers. */
  #commitTailers = 0
  readonly #waiting = new WaitList()
  #scheduled = false
  /** The committed size the writer last woke other readers for in this tick, or -1. */
  #pokedSize = -1
  #sidecar: Sidecar | null
  /** The sidecar's 32-bit words, or a private stand-in, so the commit path never branches. */
  readonly #words: Int32Array
  readonly #size: () => number

  /** @param size - The committed size now. */
  constructor(sidecar: Sidecar | null, size: () => number) {
    this.#sidecar = sidecar
    this.#words = sidecar?.words ?? new Int32Array(WAITERS + 1)
    this.#size = size
  }

  /** The tailers following the file in this thread. */
  get tailers(): ReadonlySet<Tailer> {
    return this.#tailers
  }

  addTailer(tailer: Tailer): void {
    this.#tailers.add(tailer)
    if (!tailer.polling) this.#commitTailers++
  }

  deleteTailer(tailer: Tailer): void {
    if (this.#tailers.delete(tailer) && !tailer.polling) this.#commitTailers--
  }

  /** The file as its followers see it: `file`, woken by these wake-ups. */
  source(file: Pick<TailSource, 'committedSize' | 'fileState' | 'read'>): TailSource {
    const waiting = this.#waiting
    return {
      committedSize: file.committedSize,
      fileState: file.fileState,
      read: file.read,
      detach: (tailer) => this.deleteTailer(tailer),
      failure: () => null,
      wait: (resume) => waiting.add(resume),
      cancelWait: (resume) => waiting.delete(resume),
    }
  }

  /** Data was committed up to `end`: wake whoever follows, once this tick. */
  committed(end: number): void {
    if (this.#scheduled || (this.#commitTailers | this.#waiting.size | this.#words[WAITERS]!) === 0) return
    this.#schedule(end)
  }

  /** The rare half of {@link committed}, apart so that the half every write runs stays small. */
  #schedule(end: number): void {
    const waiters = this.#words[WAITERS]!
    this.#scheduled = true
    queueMicrotask(this.wakeFollowers)
    // Readers elsewhere are woken by the first commit of a tick at once, not when the tick
    // ends: the rest of the caller's synchronous work would add to their latency. Commits
    // later in the same tick are covered by one more wake-up from wakeFollowers.
    if (waiters !== 0) {
      pokeReaders(this.#sidecar)
      this.#pokedSize = end
    }
  }

  /** Polls tailers and resumes iterators, and pokes readers elsewhere for what they missed. */
  readonly wakeFollowers = (): void => {
    this.#scheduled = false
    if (this.#tailers.size > 0) {
      for (const tailer of this.#tailers) if (!tailer.polling) tailer.poll('write')
    }
    this.#waiting.resumeAll()
    if (this.#pokedSize !== this.#size()) pokeReaders(this.#sidecar)
    this.#pokedSize = -1
  }

  /** Pokes the readers elsewhere now. */
  pokeReaders(): void {
    pokeReaders(this.#sidecar)
  }

  /** The sidecar is closing: readers elsewhere are woken a last time, then no more. */
  detachSidecar(): void {
    pokeReaders(this.#sidecar)
    this.#sidecar = null
  }
}

/**
 * How a reader in another thread or process is woken while it waits for its writer
 * ({@link FileReader.wakeup}):
 * - `'inotify'`: the addon's inotify watch of the `-shm` sidecar, the default on Linux;
 * - `'fs.watch'`: Node's `fs.watch` of the sidecar, where the first cannot be made (not Linux,
 *   or the user's inotify instances or the process's descriptors used up);
 * - `'timer'`: neither could be made (inotify watches used up, for one): the reader finds new
 *   data by its check every `checkIntervalMs`, and the process is warned once
 *   (`AOFKIT_READER_POLLING`);
 * - `'busy-poll'`: the reader spins on the committed size, as asked with `busyPoll: true`.
 */
export type ReaderWakeup = 'inotify' | 'fs.watch' | 'timer' | 'busy-poll'

/** What a waiting reader needs of a watch on the sidecar. */
interface SidecarWatch {
  handle: Pick<native.FileWatch, 'close' | 'ref' | 'unref'>
  /** fs.watch reports writes but not reads: the writer must then poke with a write. */
  kind: 'inotify' | 'fs.watch'
}

/**
 * Watches the sidecar for the writer's pokes: the addon's own inotify watch, whose callback
 * comes straight from the event loop, or fs.watch where that is unavailable (fs.watch shares
 * one inotify instance per thread). When neither can be made, the error that stopped the last:
 * the reader's check timer still finds new data, only later.
 */
function watchSidecar(path: string, onWake: () => void): SidecarWatch | Error {
  try {
    const direct = native.watchFile(path, onWake)
    if (direct !== null) return { handle: direct, kind: 'inotify' }
  } catch {
    // Fall through to fs.watch.
  }
  try {
    return { handle: watch(path, { persistent: true }, onWake).on('error', () => undefined), kind: 'fs.watch' }
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

let pollingWarned = false

/** Tells the process, once, that a reader waits by its timer: new data reaches it late. */
function warnPolling(path: string, cause: Error, intervalMs: number, remedy?: string): void {
  if (pollingWarned) return
  pollingWarned = true
  process.emitWarning(`a reader of '${path}' could not watch its sidecar (${cause.message}): it finds new data by its check every ${intervalMs} ms`, {
    code: 'AOFKIT_READER_POLLING',
    detail: `${remedy ?? 'Raise fs.inotify.max_user_watches or fs.inotify.max_user_instances, or close unused file descriptors.'} reader.wakeup tells how each reader waits.`,
  })
}

/** How a {@link ReaderWaiter} reaches its reader. */
export interface ReaderWaiterOptions {
  /** The data file's path (the sidecar is next to it). */
  readonly path: string
  /** The live sidecar's 32-bit words, or null when there is no live writer to wait for. */
  readonly words: Int32Array | null
  /**
   * The sidecar is mapped read-only (its writer runs as another user): the reader can neither
   * count itself among the waiters nor be poked, so it finds new data by its check timer.
   */
  readonly readOnly?: boolean
  readonly busyPoll: boolean
  /** Named in the warning of a reader left to its check timer. */
  readonly checkIntervalMs: number
  /** The writer's poke arrived. */
  readonly onWake: () => void
  /** One turn of busy-polling: look at the committed size. */
  readonly onSpin: () => void
}

/**
 * The reader's side: while someone follows, it counts itself in the sidecar's waiters and
 * watches the sidecar (or spins, with `busyPoll`). The watch lives as long as the reader and
 * is merely unreferenced while nobody waits (recreating it costs ~9 µs).
 */
export class ReaderWaiter {
  readonly #options: ReaderWaiterOptions
  #registered = false
  #watcher: SidecarWatch | null = null
  #wakeup: ReaderWakeup | null = null
  #spinning = false

  constructor(options: ReaderWaiterOptions) {
    this.#options = options
  }

  /** How the reader is woken; null until it first waits, and without a live writer. */
  get wakeup(): ReaderWakeup | null {
    return this.#wakeup
  }

  /** Counts the reader as waiting and makes sure it is woken. */
  register(): void {
    if (this.#registered) return
    this.#registered = true
    const { words, busyPoll } = this.#options
    if (words !== null && this.#options.readOnly === true && !busyPoll) {
      if (this.#wakeup === null) {
        this.#wakeup = 'timer'
        const { path, checkIntervalMs } = this.#options
        warnPolling(path, new Error('this user may not write it, so it cannot ask to be woken'), checkIntervalMs, 'Run the reader as the writer\'s user, or give that user\'s group write access to the sidecar; or lower checkIntervalMs.')
      }
      return
    }
    if (busyPoll) {
      if (words !== null) this.#wakeup = 'busy-poll'
      this.#spin()
    } else if (words !== null && this.#watcher === null) {
      this.#watch()
    }
    if (words !== null && this.#options.readOnly !== true) {
      // The watch kind first: the writer picks its poke by it once it sees a waiter.
      if (this.#watcher?.kind === 'fs.watch') Atomics.add(words, WRITE_WATCHERS, 1)
      Atomics.add(words, WAITERS, 1)
    }
    this.#watcher?.handle.ref()
  }

  /** No longer waiting: the writer stops poking for this reader. */
  unregister(): void {
    if (!this.#registered) return
    this.#registered = false
    const words = this.#options.words
    if (words !== null && this.#options.readOnly !== true) {
      Atomics.sub(words, WAITERS, 1)
      if (this.#watcher?.kind === 'fs.watch') Atomics.sub(words, WRITE_WATCHERS, 1)
    }
    this.#watcher?.handle.unref()
  }

  /** Unregisters and closes the watch. */
  close(): void {
    this.unregister()
    this.#watcher?.handle.close()
    this.#watcher = null
  }

  /** Makes the sidecar watch, or leaves the reader to its check timer (and says so, once). */
  #watch(): void {
    const { path, onWake, checkIntervalMs } = this.#options
    const watched = watchSidecar(sidecarPath(path), onWake)
    if (watched instanceof Error) {
      this.#wakeup = 'timer'
      warnPolling(path, watched, checkIntervalMs)
      return
    }
    this.#watcher = watched
    this.#wakeup = watched.kind
  }

  #spin(): void {
    if (this.#spinning) return
    this.#spinning = true
    const loop = (): void => {
      if (!this.#registered) {
        this.#spinning = false
        return
      }
      this.#options.onSpin()
      setImmediate(loop)
    }
    setImmediate(loop)
  }
}
