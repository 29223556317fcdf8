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
import { DONE, StepIterator } from './step-iterator.ts'
import type { Step } from './step-iterator.ts'
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

/** The one thing a data follower waits for: the source's next change. */
const WAIT_CHANGE = 0

class DataFollower extends StepIterator<Uint8Array, typeof WAIT_CHANGE> {
  readonly #source: TailSource
  readonly #signal: AbortSignal | undefined
  #position: number
  /** A bad `from` or `signal`, thrown by the first next() as the generator this replaces did. */
  #invalid: Error | null = null

  constructor(source: TailSource, given: TailOptions) {
    super()
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

  /** What is there to hand over now: a chunk, the end, a thrown failure; or to wait. */
  protected step(): Step<Uint8Array> | typeof WAIT_CHANGE {
    if (this.#invalid !== null) throw this.#invalid
    const signal = this.#signal
    if (signal?.aborted === true) throw abortError(signal)
    const source = this.#source
    // The state, then the failure, then the size. A writer publishes its last size before it
    // finishes or closes, so a size read after them covers every byte it committed. A failure
    // read after the state sees what ended it: read before, it could miss the cut or the close
    // that the state then shows, and a failed file would end as if complete.
    const state = source.fileState()
    const failure = source.failure()
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
      this.finish()
      return DONE
    }
    return WAIT_CHANGE
  }

  protected wait(): void {
    this.#source.wait(this.resume)
  }

  readonly #onAbort = (): void => {
    this.stopWith(null, abortError(this.#signal!))
  }

  protected release(): void {
    // Withdrawing a wait that never was, or already ran, is harmless.
    this.#source.cancelWait(this.resume)
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }
}
