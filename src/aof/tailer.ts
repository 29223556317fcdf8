/**
 * Tailers: consumers that follow a file as it is written (the seed's Tailer). A tailer is
 * polled when new data is committed; wake-ups coalesce, so many writes in one tick give one
 * poll. A consumer that consumes less than it was offered is polled again on the next tick.
 * @module
 */
import { invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { FileState } from './file-state.ts'
import { nowNs } from './stats.ts'

/** The life cycle of a tailer (the seed's TailerState, with its numbers). */
export const TailerState = {
  /** Subscribed; not polled yet. */
  Start: 1,
  /** Polled, and not yet at the tail of the data. */
  Reading: 2,
  /** At the tail: waiting for new data. */
  Tail: 3,
  /** The file is finished and the tailer has consumed all of it. */
  EOF: 4,
  /** close() has begun. */
  Closing: 5,
  /** Closed: pollReadClosed has been called. */
  Closed: 6,
} as const

/** One of the {@link TailerState} values. */
export type TailerState = (typeof TailerState)[keyof typeof TailerState]

/** Why a tailer was polled. */
export type PollReason = 'start' | 'write' | 'wake' | 'interval' | 'backpressure' | 'eof'

/** What a consumer is given on each poll (the seed's ReadEvent). */
export interface ReadEvent {
  /** When the poll happened: `process.hrtime.bigint()` nanoseconds, as a number. */
  readonly time: number
  /** The tailer being polled. */
  readonly tailer: Tailer
  /** First offset not yet consumed. */
  readonly begin: number
  /** The committed size: the end of the data offered. */
  readonly end: number
  /** The data `[begin, end)`. Zero-copy when the writer is in this thread; valid during the call. */
  readonly tail: Uint8Array
  /** The file's state at the poll. */
  readonly fileState: FileState
  /** True when the file is finished and `end` is its last byte. */
  readonly eof: boolean
  /** Why the tailer was polled. */
  readonly reason: PollReason
  /** All data `[0, end)`. A method: call it on the event (`event.contents()`). */
  contents(): Uint8Array
}

/** A consumer of a file's data (the seed's Consumer). */
export interface Consumer {
  /** Consumes some of `event.tail` and returns the offset consumed up to (`begin..end`). */
  pollRead(event: ReadEvent): number
  /** Called once when the tailer closes: `reason` is an Error, or a string for a normal close. */
  pollReadClosed(reason: unknown): void
}

/** Options of subscribe(). */
export interface SubscribeOptions {
  /** Poll on this interval (ms) instead of on every commit. */
  intervalMs?: number
  /** Offset to start from. Default: 0, the beginning. */
  from?: number
}

/** What a tailer follows: an open file, or a reader of one in another thread or process. */
export interface TailSource {
  /** Committed data size, refreshed as needed. */
  committedSize(): number
  /** The state the writer reports. */
  fileState(): FileState
  /** Bytes `[begin, end)` of the data. */
  read(begin: number, end: number): Uint8Array
  /** Stops polling `tailer`. */
  detach(tailer: Tailer): void
  /** An error that ended the source (writer died, file replaced), or null. */
  failure(): Error | null
  /**
   * Calls `resume` once at the next change a follower cares about (possibly at once, if one
   * happened since the last look), unless {@link TailSource.cancelWait} is called first. A
   * follower passes the same function each time it waits: waiting then allocates nothing.
   */
  wait(resume: () => void): void
  /**
   * Withdraws `resume` if it has not run. Also called after it ran, when a follower stops: a
   * source may keep a follower registered across wake-ups until then.
   */
  cancelWait(resume: () => void): void
}

/**
 * Every event's `contents`: one function shared by all events, rather than a closure made per
 * poll, which a reader in another process would allocate on its wake-up path.
 */
function eventContents(this: ReadEvent | undefined): Uint8Array {
  if (!(this?.tailer instanceof Tailer)) {
    throw invalidArgument('contents() must be called on its event: event.contents()')
  }
  return this.tailer.contentsTo(this.end)
}

function isFinished(state: FileState): boolean {
  return state === FileState.EOF
}

/** Follows a {@link TailSource} on behalf of one {@link Consumer}. */
export class Tailer {
  readonly #source: TailSource
  readonly #consumer: Consumer
  #state: TailerState = TailerState.Start
  #position: number
  #pending = false
  #interval: NodeJS.Timeout | null = null
  #eofDelivered = false

  /** @internal Created by subscribe(). */
  constructor(source: TailSource, consumer: Consumer, given?: SubscribeOptions) {
    if (consumer === null || typeof consumer !== 'object' || typeof consumer.pollRead !== 'function' || typeof consumer.pollReadClosed !== 'function') {
      throw invalidArgument('a consumer needs pollRead(event) and pollReadClosed(reason) methods')
    }
    const options = optionsOf(given)
    const from = options.from ?? 0
    if (!Number.isSafeInteger(from) || from < 0) {
      throw invalidArgument(`from must be a non-negative integer, got ${String(from)}`)
    }
    const intervalMs = options.intervalMs
    if (intervalMs !== undefined && (typeof intervalMs !== 'number' || !(intervalMs > 0) || !Number.isFinite(intervalMs))) {
      throw invalidArgument(`intervalMs must be a positive number, got ${String(intervalMs)}`)
    }
    this.#source = source
    this.#consumer = consumer
    this.#position = from
    if (intervalMs !== undefined) {
      this.#interval = setInterval(() => this.poll('interval'), intervalMs)
    }
  }

  /** The tailer's {@link TailerState}. */
  get state(): TailerState {
    return this.#state
  }

  /** The offset consumed up to. */
  get position(): number {
    return this.#position
  }

  /** True when this tailer polls on an interval rather than on commits. */
  get polling(): boolean {
    return this.#interval !== null
  }

  /** Asks for a poll on the next tick (coalesced with any other pending poll). */
  wake(reason: PollReason = 'wake'): void {
    if (this.#pending || this.#state >= TailerState.Closing) return
    this.#pending = true
    setImmediate(() => {
      this.#pending = false
      this.poll(reason)
    })
  }

  /**
   * @internal New data up to `end` in a file still open for writing: a reader's wake-up,
   * by the shortest path. Equivalent to poll('write') for a tailer that polls on commits.
   */
  offer(end: number): void {
    if (this.#interval !== null) return
    const begin = this.#position
    if (begin < end && this.#state < TailerState.Closing) this.#deliver(begin, end, FileState.Opened, false, 'write')
    else this.poll('write')
  }

  /** @internal The data `[0, end)` of the source: a poll event's `contents()`. */
  contentsTo(end: number): Uint8Array {
    return this.#source.read(0, end)
  }

  /** @internal Polls the consumer now if there is anything to offer. */
  poll(reason: PollReason): void {
    if (this.#state >= TailerState.Closing) return
    const source = this.#source
    const end = source.committedSize()
    const begin = this.#position
    if (begin < end) {
      // New data, the common case: offered first and by the shortest path (a reader in
      // another process runs it right after waking, with cold caches).
      const fileState = source.fileState()
      this.#deliver(begin, end, fileState, isFinished(fileState), reason)
      return
    }
    const failure = source.failure()
    const fileState = source.fileState()
    if (begin > end) {
      this.close(
        failure ??
          new AofkitError(ErrorCode.Corrupted, `the data shrank below this tailer's position (${end} < ${begin})`),
      )
      return
    }
    // Caught up (begin === end): a failure ends the tailer; a finished file gets its EOF event.
    if (failure !== null) {
      this.close(failure)
      return
    }
    const finished = isFinished(fileState)
    if (finished && !this.#eofDelivered) {
      this.#deliver(begin, end, fileState, finished, 'eof')
    } else if (this.#state !== TailerState.EOF) {
      this.#state = finished ? TailerState.EOF : TailerState.Tail
    }
    if (fileState === FileState.Closed || fileState === FileState.Closing) this.close('file closed')
  }

  #deliver(begin: number, end: number, fileState: FileState, eof: boolean, reason: PollReason): void {
    const source = this.#source
    // An object literal, not a class instance: measured against a class with the source in a
    // private field, the literal gave the lower p99 in 4 runs of 4 (docs/BENCHMARKS.md).
    const event: ReadEvent = {
      time: nowNs(),
      tailer: this,
      begin,
      end,
      tail: begin === end ? new Uint8Array(0) : source.read(begin, end),
      fileState,
      eof,
      reason,
      contents: eventContents,
    }
    this.#state = TailerState.Reading
    let consumed: unknown
    try {
      consumed = this.#consumer.pollRead(event)
    } catch (error) {
      this.close(error)
      return
    }
    if (this.#state >= TailerState.Closing) return
    let position = typeof consumed === 'number' && Number.isFinite(consumed) ? Math.floor(consumed) : begin
    if (position < begin) position = begin
    if (position > end) position = end
    this.#position = position
    if (position < end) {
      this.wake('backpressure')
      return
    }
    if (eof) {
      this.#eofDelivered = true
      this.#state = TailerState.EOF
    } else {
      this.#state = TailerState.Tail
    }
  }

  /** Closes the tailer; the consumer's pollReadClosed receives `reason`. Idempotent. */
  close(reason: unknown = 'closed'): void {
    if (this.#state >= TailerState.Closing) return
    this.#state = TailerState.Closing
    if (this.#interval !== null) clearInterval(this.#interval)
    this.#interval = null
    this.#source.detach(this)
    this.#state = TailerState.Closed
    this.#consumer.pollReadClosed(reason)
  }
}

/** Largest chunk tail() yields, in bytes. */
export const CHUNK_SIZE_MAX = 4 * 1024 * 1024

/** Options of tail() and stream(). */
export interface TailOptions {
  /** Offset to start from. Default: 0. */
  from?: number
  /** Stops the iteration (or destroys the stream) with an AbortError. */
  signal?: AbortSignal
}

/** The AbortError an aborted `signal` ends a tail with. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new Error('The operation was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}

/** The error for a `signal` option that is not an AbortSignal, or null when it is one or absent. */
function badSignal(signal: unknown): AofkitError | null {
  if (signal === undefined || signal instanceof AbortSignal) return null
  return invalidArgument(`signal must be an AbortSignal, got ${String(signal)}`)
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
      return Promise.reject(error as Error)
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
    return Promise.reject(error as Error)
  }

  /** What is there to hand over now: a chunk, the end, a thrown failure; null to wait. */
  #step(): Step | null {
    if (this.#invalid !== null) throw this.#invalid
    const signal = this.#signal
    if (signal?.aborted === true) throw abortError(signal)
    const source = this.#source
    const end = source.committedSize()
    const state = source.fileState()
    const position = this.#position
    if (position < end) {
      // Bounded chunks: a reader catching up reuses memory instead of mapping it all at once.
      const chunkEnd = Math.min(end, position + CHUNK_SIZE_MAX)
      const chunk = source.read(position, chunkEnd)
      this.#position = chunkEnd
      return { value: chunk, done: false }
    }
    const failure = source.failure()
    if (failure !== null) throw failure
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
