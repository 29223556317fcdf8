/**
 * A watch of a journal's directory (`fs.watch`, inotify on Linux): a writer opening the journal
 * rewrites `writer.lock`, a roll creates a segment, retention removes one; followers whose
 * writer is gone wait here instead of polling the directory. The watch exists only while
 * someone waits, so a follower whose writer is alive gets no event per index write.
 * @module
 */
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'

import { abortError } from '../errors.ts'

/** Counts the changes in a directory and lets callers wait for the next one. */
export class DirectoryWatch {
  readonly #dir: string
  #generation = 0
  #watcher: FSWatcher | null = null
  readonly #waiters = new Set<() => void>()
  readonly #timer: NodeJS.Timeout
  readonly #closer = new AbortController()
  /** Aborted when the watch is closed (its owner closed): followers then stop waiting. */
  readonly closed: AbortSignal = this.#closer.signal

  /** @param recheckMs - Also wake waiters this often, in case an event was missed. */
  constructor(dir: string, recheckMs = 1000) {
    this.#dir = dir
    this.#timer = setInterval(() => {
      if (this.#waiters.size > 0) this.#changed()
    }, recheckMs)
    this.#timer.unref()
  }

  /** Increases at every change seen. */
  get generation(): number {
    return this.#generation
  }

  /**
   * Resolves at the first change after `generation` (at once if there was one already). When
   * no watch runs yet, it starts one and resolves at once: a change between the caller's look
   * and the start of the watch would be missed, so the caller looks again, watched.
   */
  changedSince(generation: number, signal?: AbortSignal): Promise<void> {
    if (this.#generation !== generation) return Promise.resolve()
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    if (this.#watcher === null && !this.#closer.signal.aborted && this.#startWatch()) {
      this.#generation++
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(wake)
        this.#settle()
        reject(abortError(signal!))
      }
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.#waiters.add(wake)
      this.#settle()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Starts the fs.watch; false when it cannot (descriptors used up): the timer finds changes. */
  #startWatch(): boolean {
    try {
      const watcher = watch(this.#dir, () => {
        this.#changed()
      })
      watcher.on('error', () => {
        watcher.close()
        if (this.#watcher === watcher) this.#watcher = null
      })
      // Held by waiters only (#settle): a caller that stops instead of looking again and
      // waiting must not leave its process held by the watch.
      watcher.unref()
      this.#watcher = watcher
      return true
    } catch {
      return false
    }
  }

  #changed(): void {
    this.#generation++
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
    this.#settle()
  }

  /**
   * A waiter keeps the process alive, as a follower of a file does; with none, the watch is
   * closed (the next wait starts it again) and the timer does not hold the process.
   */
  #settle(): void {
    if (this.#waiters.size > 0) {
      this.#watcher?.ref()
      this.#timer.ref()
    } else {
      this.#watcher?.close()
      this.#watcher = null
      this.#timer.unref()
    }
  }

  close(): void {
    this.#closer.abort()
    clearInterval(this.#timer)
    this.#changed()
  }
}
