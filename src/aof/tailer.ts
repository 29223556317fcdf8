/**
 * Tailers: consumers that follow a file as it is written (the Go `aof` package's Tailer), pushed to. A
 * tailer is polled when new data is committed; wake-ups coalesce, so many writes in one tick
 * give one poll. A consumer that consumes less than it was offered is polled again on the next
 * tick. The pull form, an async iterator, is in `follow-data.ts`.
 * @module
 */
import { intervalMs, invalidArgument, optionsOf } from '../arguments.ts'
import { FileState } from './file-state.ts'
import { nowNs } from './stats.ts'
import { pastTheEnd } from './tail-source.ts'
import type { TailSource } from './tail-source.ts'

/** The life cycle of a tailer (the Go `aof` package's TailerState, with its numbers). */
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

/** What a consumer is given on each poll (the Go `aof` package's ReadEvent). */
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

/** A consumer of a file's data (the Go `aof` package's Consumer). */
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
  /**
   * Offset to start from. Default: 0. Past the end of a file still written, it waits for the
   * data to reach it; past the end of a finished file, the tailer is closed with
   * `ERR_AOF_INVALID_ARGUMENT`.
   */
  from?: number
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

  /** @internal A tailer of `source`: subscribe()'s part. */
  static create(source: TailSource, consumer: Consumer, options?: SubscribeOptions): Tailer {
    return new Tailer(source, consumer, options)
  }

  /** Made by `subscribe()`. */
  private constructor(source: TailSource, consumer: Consumer, given?: SubscribeOptions) {
    if (consumer === null || typeof consumer !== 'object' || typeof consumer.pollRead !== 'function' || typeof consumer.pollReadClosed !== 'function') {
      throw invalidArgument('a consumer needs pollRead(event) and pollReadClosed(reason) methods')
    }
    const options = optionsOf(given)
    const from = options.from ?? 0
    if (!Number.isSafeInteger(from) || from < 0) {
      throw invalidArgument(`from must be a non-negative integer, got ${String(from)}`)
    }
    const interval = intervalMs(options.intervalMs, 'intervalMs', 0)
    this.#source = source
    this.#consumer = consumer
    this.#position = from
    if (interval !== 0) {
      this.#interval = setInterval(() => this.poll('interval'), interval)
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

  /**
   * @internal Polls the consumer now if there is anything to offer: new data, the end of a
   * finished file, or, for `'wake'`, anything at all (an empty range when nothing is new).
   */
  poll(reason: PollReason): void {
    if (this.#state >= TailerState.Closing) return
    const source = this.#source
    // The state, then the failure, then the size, as the iterator of tail() reads them
    // (follow-data.ts says why).
    const fileState = source.fileState()
    const failure = source.failure()
    const end = source.committedSize()
    const begin = this.#position
    if (begin < end) {
      // New data, the common case: offered first and by the shortest path (a reader in
      // another process runs it right after waking, with cold caches).
      this.#deliver(begin, end, fileState, isFinished(fileState), reason)
      // A failure seen before the size: that was the last data; once consumed, the end.
      if (failure !== null && this.#position >= end) this.close(failure)
      return
    }
    if (begin > end) {
      // Past the data: a file still written may reach the position, as tail() waits for it;
      // a finished one never will.
      if (failure !== null) this.close(failure)
      else if (isFinished(fileState)) this.close(pastTheEnd(begin, end))
      else if (fileState === FileState.Closed || fileState === FileState.Closing) this.close('file closed')
      else this.#state = TailerState.Tail
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
    } else if (reason === 'wake') {
      // wake() polls every tailer, with nothing new as well: an empty range.
      this.#deliver(begin, end, fileState, finished, 'wake')
    } else if (this.#state !== TailerState.EOF) {
      this.#state = finished ? TailerState.EOF : TailerState.Tail
    }
    if (fileState === FileState.Closed || fileState === FileState.Closing) this.close('file closed')
  }

  #deliver(begin: number, end: number, fileState: FileState, eof: boolean, reason: PollReason): void {
    const source = this.#source
    // An object literal, not a class instance: measured against a class with the source in a
    // private field, the literal gave the lower p99 in 4 runs of 4 (docs/PERFORMANCE.md, "The
    // scheduler and cross-process latency").
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
