/**
 * WaitList: the followers waiting for a file's next change (the waits behind `nextChange()`
 * and `tail()`), for the writer's file and for readers in other threads and processes alike.
 * @module
 */

/** One-shot callbacks, each run at most once: by {@link WaitList.resumeAll} or never. */
export class WaitList {
  #waiting: (() => void)[] = []

  /** How many wait now. */
  get size(): number {
    return this.#waiting.length
  }

  /**
   * Adds `resume`. Returns a function that removes it if it has not run yet, and tells whether
   * it did so.
   */
  add(resume: () => void): () => boolean {
    let waiting = true
    const wake = (): void => {
      if (!waiting) return
      waiting = false
      resume()
    }
    this.#waiting.push(wake)
    return () => {
      if (!waiting) return false
      waiting = false
      const index = this.#waiting.indexOf(wake)
      if (index >= 0) this.#waiting.splice(index, 1)
      return true
    }
  }

  /** Runs every callback waiting now; those they add wait for the next call. */
  resumeAll(): void {
    if (this.#waiting.length === 0) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const wake of waiting) wake()
  }
}
