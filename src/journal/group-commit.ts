/**
 * Group commit: callers that ask for the same durable work while it runs share the next run,
 * so N concurrent `sync()` calls cost two runs at most, not N.
 * @module
 */

/** Runs `work` for every caller that asked before the run began, one run at a time. */
export class GroupCommit {
  readonly #work: () => Promise<void>
  #running: Promise<void> | null = null
  #queued: Promise<void> | null = null

  constructor(work: () => Promise<void>) {
    this.#work = work
  }

  /** Resolves once a run that began after this call has completed. */
  request(): Promise<void> {
    if (this.#queued !== null) return this.#queued
    if (this.#running === null) return this.#start()
    const after = this.#running.then(
      () => undefined,
      () => undefined,
    )
    this.#queued = after.then(() => {
      this.#queued = null
      return this.#start()
    })
    return this.#queued
  }

  /** Resolves when no run is in flight or queued (failures ignored). */
  async idle(): Promise<void> {
    while (this.#running !== null || this.#queued !== null) {
      await (this.#queued ?? this.#running)?.catch(() => undefined)
    }
  }

  #start(): Promise<void> {
    const running = this.#work().finally(() => {
      if (this.#running === running) this.#running = null
    })
    this.#running = running
    return running
  }
}
