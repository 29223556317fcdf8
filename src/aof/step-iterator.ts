/**
 * The async iterator a live follower is written as, instead of an async generator: `tail()`'s
 * (`follow-data.ts`) and a journal's `follow()` (`src/journal/follower.ts`). A wake-up works
 * out the next step and settles the pending `next()` directly, with no promise per wait and no
 * generator hops between the wake-up and the consumer: this is the cross-process latency path
 * (docs/PERFORMANCE.md, "tail() and subscribe()").
 *
 * A subclass says what there is now ({@link StepIterator.step}: a result, or what to wait
 * for), how to wait ({@link StepIterator.wait}, which arranges for {@link StepIterator.resume}
 * to be called) and how to let go of what it holds ({@link StepIterator.release}).
 * @module
 */

/** @internal One step of a follower: an item, or the end. */
export type Step<T> = IteratorResult<T, void>

/** @internal The end of following. */
export const DONE: Step<never> = Object.freeze({ value: undefined, done: true })

function noop(): void {}

/**
 * One executor for every promise a follower makes: it hands over the resolving functions
 * through these two slots instead of a closure made per wait.
 */
let capturedResolve: ((step: Step<unknown>) => void) | null = null
let capturedReject: ((error: unknown) => void) | null = null
function capture(resolve: (step: Step<unknown>) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve
  capturedReject = reject
}

/**
 * @internal A follower as an async iterator: one `next()` at a time (later calls queue, as a generator's
 * do), settled from {@link StepIterator.resume}. `W` names what a follower can wait for: a
 * number, so that a step (an object) is told from a wait by its type.
 */
export abstract class StepIterator<T, W extends number> implements AsyncGenerator<T, void, undefined> {
  #done = false
  /** The consumer's unresolved next(), while waiting, and how to settle it. */
  #pending: Promise<Step<T>> | null = null
  #resolve: (step: Step<T>) => void = noop
  #reject: (error: unknown) => void = noop

  /**
   * What there is to hand over now: an item, {@link DONE} (after {@link StepIterator.finish}),
   * or what to wait for. Throws what ends following.
   */
  protected abstract step(): Step<T> | W

  /** Arranges for {@link StepIterator.resume} to be called when `what` may have changed. */
  protected abstract wait(what: W): void

  /** Lets go of every wait and resource: following is over. */
  protected abstract release(): void

  /** Called by every wake-up before anything else, pending `next()` or not. */
  protected woke(): void {}

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<Step<T>> {
    if (this.#pending !== null) return this.#pending.then(() => this.next(), () => this.next())
    if (this.#done) return Promise.resolve(DONE)
    let step: Step<T> | W
    try {
      step = this.step()
    } catch (error) {
      this.finish()
      return Promise.reject(error)
    }
    if (typeof step === 'object') return Promise.resolve(step)
    const promise = new Promise<Step<T>>(capture as (resolve: (step: Step<T>) => void, reject: (error: unknown) => void) => void)
    this.#pending = promise
    this.#resolve = capturedResolve!
    this.#reject = capturedReject!
    capturedResolve = null
    capturedReject = null
    // Pending first: the wait may resume at once, inside the call.
    this.wait(step)
    return promise
  }

  return(): Promise<Step<T>> {
    this.finish()
    this.#settle(DONE, null)
    return Promise.resolve(DONE)
  }

  throw(error: unknown): Promise<Step<T>> {
    this.finish()
    this.#settle(DONE, null)
    return Promise.reject(error)
  }

  /** A `next()` is waiting to be settled. */
  protected get waiting(): boolean {
    return this.#pending !== null
  }

  /** What a follower waited for changed (or may have): hand over what there is, or wait again. */
  protected readonly resume = (): void => {
    this.woke()
    if (this.#pending === null) return
    let step: Step<T> | W
    try {
      step = this.step()
    } catch (error) {
      this.finish()
      this.#settle(null, error)
      return
    }
    if (typeof step === 'object') this.#settle(step, null)
    else this.wait(step)
  }

  /** Ends following, once: later `next()` calls resolve done. */
  protected finish(): void {
    this.#done = true
    this.release()
  }

  /**
   * Ends following from outside a step (an abort, a failed wait) while a `next()` waits: it
   * resolves with `step`, or else rejects with `error`. Nothing when no `next()` waits.
   */
  protected stopWith(step: Step<T> | null, error: unknown): void {
    if (this.#pending === null) return
    this.finish()
    this.#settle(step, error)
  }

  /** Settles the pending next(), if any: with `step`, or else rejected with `error`. */
  #settle(step: Step<T> | null, error: unknown): void {
    if (this.#pending === null) return
    const resolve = this.#resolve
    const reject = this.#reject
    this.#pending = null
    this.#resolve = noop
    this.#reject = noop
    if (step !== null) resolve(step)
    else reject(error)
  }
}
