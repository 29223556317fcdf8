/**
 * WaitList: the followers waiting for a file's next change (the waits behind `nextChange()`
 * and `tail()`), for the writer's file and for readers in other threads and processes alike.
 * @module
 */

/**
 * Callbacks run once by the next {@link WaitList.resumeAll}, unless deleted first. A follower
 * passes the same function every time it waits, so waiting allocates nothing: this is on the
 * wake-up path of every reader.
 */
export class WaitList {
  #waiting = new Set<() => void>()
  /** The set being run by resumeAll, so that a delete during the run still takes effect. */
  #running: Set<() => void> | null = null
  /** An empty set to swap in, kept from the last run. */
  #spare: Set<() => void> | null = null

  /** How many wait now. */
  get size(): number {
    return this.#waiting.size
  }

  /** Adds `resume` (once, however often it is added before the next resumeAll). */
  add(resume: () => void): void {
    this.#waiting.add(resume)
  }

  /** Removes `resume` if it has not run yet. */
  delete(resume: () => void): void {
    this.#waiting.delete(resume)
    this.#running?.delete(resume)
  }

  /** Runs every callback waiting now; those they add wait for the next call. */
  resumeAll(): void {
    const waiting = this.#waiting
    if (waiting.size === 0) return
    const outer = this.#running
    this.#waiting = this.#spare ?? new Set()
    this.#spare = null
    this.#running = waiting
    try {
      for (const resume of waiting) {
        waiting.delete(resume)
        resume()
      }
    } finally {
      this.#running = outer
      // A callback that threw leaves the rest unrun: they still wait.
      if (waiting.size === 0) this.#spare = waiting
      else for (const resume of waiting) this.#waiting.add(resume)
    }
  }
}
