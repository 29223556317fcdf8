/**
 * The pull form of following a file: `tail()`'s async iterator over the data as it is
 * committed, and `nextChange()`'s wait, over a {@link TailSource}. The push form, the
 * {@link Tailer}, is in `tailer.ts`.
 * @module
 */
import { describeValue, invalidArgument, optionsOf } from '../arguments.ts'
import { abortError } from '../errors.ts'
import type { AofkitError } from '../errors.ts'
import { FileState } from './file-state.ts'
import { pastTheEnd } from './tail-source.ts'
import type { TailSource } from './tail-source.ts'

/** Largest chunk tail() yields, in bytes. */
export const CHUNK_SIZE_MAX = 4 * 1024 * 1024

/** Options of tail() and stream(). */
export interface TailOptions {
  /**
   * Offset to start from. Default: 0. Past the end of a file still written, it waits for the
   * data to reach it; past the end of a finished file, the first `next()` rejects with
   * `ERR_AOF_INVALID_ARGUMENT`.
   */
  from?: number
  /** Stops the iteration (or destroys the stream) with an AbortError. */
  signal?: AbortSignal
}

/** The error for a `signal` option that is not an AbortSignal, or null when it is one or absent. */
function badSignal(signal: unknown): AofkitError | null {
  if (signal === undefined || signal instanceof AbortSignal) return null
  return invalidArgument(`signal must be an AbortSignal, got ${describeValue(signal)}`)
}

/**
 * A promise over a source's `wait`: resolves at the next change, rejects with an AbortError
 * when `signal` aborts first. The abort listener is removed either way.
 */
export function waitForChange(source: Pick<TailSource, 'wait' | 'cancelWait'>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal === undefined) {
      source.wait(resolve)
      return
    }
    const invalid = badSignal(signal)
    if (invalid !== null) {
      reject(invalid)
      return
    }
    if (signal.aborted) {
      reject(abortError(signal))
      return
    }
    const resume = (): void => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }
    const onAbort = (): void => {
      source.cancelWait(resume)
      reject(abortError(signal))
    }
    // Listen first: the source may resume inside wait(), and must then remove the listener.
    signal.addEventListener('abort', onAbort, { once: true })
    source.wait(resume)
  })
}

/**
 * The data of `source` from `options.from` as it is committed: yields each new range, waits
 * for the source's next change when caught up, returns once the file is finished (or closed)
 * and read to its end, and throws the source's failure or an AbortError.
 *
 * An iterator written out rather than an async generator: a wake-up reads the new range and
 * resolves the pending `next()` directly, with no promise per wait and no generator hops
 * between the wake-up and the consumer (this is the cross-process latency path).
 */
export function followData(source: TailSource, options: TailOptions): AsyncGenerator<Uint8Array, void, undefined> {
  return new DataFollower(source, options)
}

type Step = IteratorResult<Uint8Array, void>

const DONE: Step = Object.freeze({ value: undefined, done: true })

function noop(): void {}

/**
 * One executor for every promise a follower makes: it hands over the resolving functions
 * through these two slots instead of a closure made per wait (the wake-up path of a reader in
 * another process runs through here).
 */
let capturedResolve: ((step: Step) => void) | null = null
let capturedReject: ((error: unknown) => void) | null = null
function capture(resolve: (step: Step) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve
  capturedReject = reject
}

class DataFollower implements AsyncGenerator<Uint8Array, void, undefined> {
  readonly #source: TailSource
  readonly #signal: AbortSignal | undefined
  #position: number
  /** A bad `from` or `signal`, thrown by the first next() as the generator this replaces did. */
  #invalid: Error | null = null
  #done = false
  /** The consumer's unresolved next(), while waiting for a change, and how to settle it. */
  #pending: Promise<Step> | null = null
  #resolve: (step: Step) => void = noop
  #reject: (error: unknown) => void = noop

  constructor(source: TailSource, given: TailOptions) {
    this.#source = source
    let options: TailOptions = {}
    try {
      options = optionsOf(given)
    } catch (error) {
      this.#invalid = error as Error
    }
    const from = options.from ?? 0
    this.#position = from
    if (!Number.isSafeInteger(from) || from < 0) {
      this.#invalid ??= invalidArgument(`from must be a non-negative integer, got ${String(from)}`)
    }
    const invalidSignal = badSignal(options.signal)
    this.#invalid ??= invalidSignal
    this.#signal = invalidSignal === null ? options.signal : undefined
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<Step> {
    // One next() at a time, as a generator queues them.
    if (this.#pending !== null) return this.#pending.then(() => this.next(), () => this.next())
    if (this.#done) return Promise.resolve(DONE)
    let step: Step | null
    try {
      step = this.#step()
    } catch (error) {
      this.#end()
      return Promise.reject(error)
    }
    if (step !== null) return Promise.resolve(step)
    const promise = new Promise<Step>(capture)
    this.#pending = promise
    this.#resolve = capturedResolve!
    this.#reject = capturedReject!
    capturedResolve = null
    capturedReject = null
    this.#source.wait(this.#resume)
    return promise
  }

  return(): Promise<Step> {
    this.#settle(DONE, null)
    this.#end()
    return Promise.resolve(DONE)
  }

  throw(error: unknown): Promise<Step> {
    this.#settle(DONE, null)
    this.#end()
    return Promise.reject(error)
  }

  /** What is there to hand over now: a chunk, the end, a thrown failure; null to wait. */
  #step(): Step | null {
    if (this.#invalid !== null) throw this.#invalid
    const signal = this.#signal
    if (signal?.aborted === true) throw abortError(signal)
    const source = this.#source
    // The state and the failure before the size: a writer publishes its last size before it
    // finishes or closes, so a size read after them covers every byte it committed.
    const failure = source.failure()
    const state = source.fileState()
    const end = source.committedSize()
    const position = this.#position
    if (position < end) {
      // Bounded chunks: a reader catching up reuses memory instead of mapping it all at once.
      const chunkEnd = Math.min(end, position + CHUNK_SIZE_MAX)
      const chunk = source.read(position, chunkEnd)
      this.#position = chunkEnd
      return { value: chunk, done: false }
    }
    if (failure !== null) throw failure
    // Past the end of a finished file: never reached. Of a file still written: wait for it.
    if (position > end && state === FileState.EOF) throw pastTheEnd(position, end)
    if (state === FileState.EOF || state === FileState.Closing || state === FileState.Closed) {
      this.#end()
      return DONE
    }
    return null
  }

  /** The source changed (or may have): hand over what there is, or wait again. */
  readonly #resume = (): void => {
    // The source may keep us registered: #end's cancelWait settles that.
    if (this.#pending === null) return
    let step: Step | null
    try {
      step = this.#step()
    } catch (error) {
      this.#end()
      this.#settle(null, error)
      return
    }
    if (step === null) {
      this.#source.wait(this.#resume)
      return
    }
    this.#settle(step, null)
  }

  readonly #onAbort = (): void => {
    if (this.#pending === null) return
    this.#end()
    this.#settle(null, abortError(this.#signal!))
  }

  /** Settles the pending next(), if any: with `step`, or else rejected with `error`. */
  #settle(step: Step | null, error: unknown): void {
    if (this.#pending === null) return
    const resolve = this.#resolve
    const reject = this.#reject
    this.#pending = null
    this.#resolve = noop
    this.#reject = noop
    if (step !== null) resolve(step)
    else reject(error)
  }

  #end(): void {
    this.#done = true
    // Withdrawing a wait that never was, or already ran, is harmless.
    this.#source.cancelWait(this.#resume)
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }
}
