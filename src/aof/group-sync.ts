/**
 * Group commit for sync(): callers that arrive while an fdatasync is running share the next
 * one, and callers whose bytes the running one already covers share it. One fdatasync then
 * serves any number of concurrent callers.
 * @module
 */

/** Shares durable syncs among concurrent callers. */
export class GroupSync {
  readonly #syncOnce: () => Promise<void>
  readonly #currentSize: () => number
  /** The size covered by the last sync that completed. */
  #syncedSize = 0
  #running: Promise<void> | null = null
  #runningSize = 0
  #queued: Promise<void> | null = null

  /**
   * @param syncOnce - Makes everything written so far durable (for example an fdatasync).
   * @param currentSize - The size written so far: what a sync started now covers.
   */
  constructor(syncOnce: () => Promise<void>, currentSize: () => number) {
    this.#syncOnce = syncOnce
    this.#currentSize = currentSize
  }

  /** Resolves once everything written before the call is durable. */
  sync(): Promise<void> {
    const size = this.#currentSize()
    if (size <= this.#syncedSize) return Promise.resolve()
    if (this.#running !== null && size <= this.#runningSize) return this.#running
    if (this.#queued !== null) return this.#queued
    const after = this.#running ?? Promise.resolve()
    const queued = after
      .catch(() => undefined)
      .then(() => {
        this.#queued = null
        return this.#start(this.#currentSize())
      })
    this.#queued = queued
    return queued
  }

  #start(size: number): Promise<void> {
    const running = this.#syncOnce().then(
      () => {
        if (size > this.#syncedSize) this.#syncedSize = size
        if (this.#running === running) this.#running = null
      },
      (error: unknown) => {
        if (this.#running === running) this.#running = null
        throw error
      },
    )
    this.#running = running
    this.#runningSize = size
    return running
  }

  /** Resolves when no sync is running or queued (errors are left to their callers). */
  async idle(): Promise<void> {
    while (this.#running !== null || this.#queued !== null) {
      await (this.#queued ?? this.#running)?.catch(() => undefined)
    }
  }
}
