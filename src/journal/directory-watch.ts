/**
 * A watch of a journal's directory (`fs.watch`, inotify on Linux): a writer opening the journal
 * rewrites `writer.lock`, a roll creates a segment, retention removes one; followers whose
 * writer is gone wait here instead of polling the directory.
 * @module
 */
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'

import { abortError } from './abort.ts'

/** Counts the changes in a directory and lets callers wait for the next one. */
export class DirectoryWatch {
  #generation = 0
  #watcher: FSWatcher | null
  readonly #waiters = new Set<() => void>()
  readonly #timer: NodeJS.Timeout
  readonly #closer = new AbortController()
  /** Aborted when the watch is closed (its owner closed): followers then stop waiting. */
  readonly closed: AbortSignal = this.#closer.signal

  /** @param recheckMs - Also wake waiters this often, in case an event was missed. */
  constructor(dir: string, recheckMs = 1000) {
    try {
      this.#watcher = watch(dir, () => {
        this.#changed()
      })
      this.#watcher.unref()
      this.#watcher.on('error', () => {
        this.#watcher?.close()
        this.#watcher = null
      })
    } catch {
      // A directory that cannot be watched (descriptors used up): the timer alone finds changes.
      this.#watcher = null
    }
    this.#timer = setInterval(() => {
      if (this.#waiters.size > 0) this.#changed()
    }, recheckMs)
    this.#timer.unref()
  }

  /** Increases at every change seen. */
  get generation(): number {
    return this.#generation
  }

  /** Resolves at the first change after `generation` (at once if there was one already). */
  changedSince(generation: number, signal?: AbortSignal): Promise<void> {
    if (this.#generation !== generation) return Promise.resolve()
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(wake)
        this.#reference()
        reject(abortError(signal!))
      }
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.#waiters.add(wake)
      this.#reference()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #changed(): void {
    this.#generation++
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
    this.#reference()
  }

  /** A waiter keeps the process alive, as a follower of a file does; none, nothing does. */
  #reference(): void {
    if (this.#waiters.size > 0) {
      this.#watcher?.ref()
      this.#timer.ref()
    } else {
      this.#watcher?.unref()
      this.#timer.unref()
    }
  }

  close(): void {
    this.#watcher?.close()
    this.#watcher = null
    clearInterval(this.#timer)
    this.#closer.abort()
    this.#changed()
  }
}
