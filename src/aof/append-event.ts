/**
 * What `AppendOnlyFile.append()` hands its fill function: a view of the reserved bytes in the
 * mapping, and of the data before them.
 * @module
 */

/** What an append function receives (the Go `aof` package's AppendEvent). */
export interface AppendEvent {
  /** Offset where this append begins: the data size before it. */
  readonly begin: number
  /** `begin + reserve`. */
  readonly end: number
  /** A view of the mapping over `[begin, end)` to fill. Valid only during the call. */
  readonly tail: Uint8Array
  /** A view of all data before `begin`. */
  file(): Uint8Array
}

/**
 * Fills `event.tail` and returns how many bytes it used (clamped to `0..reserve`; anything
 * that is not a number counts as 0). It must be synchronous and must not write to the same
 * file. If it throws, nothing is written and the error propagates.
 */
export type AppendFunction = (event: AppendEvent) => number

/** The event append() passes: a class, so no closure is allocated per append. */
export class FillEvent implements AppendEvent {
  readonly begin: number
  readonly end: number
  readonly tail: Uint8Array
  readonly #bytes: Uint8Array

  constructor(bytes: Uint8Array, begin: number, end: number) {
    this.begin = begin
    this.end = end
    this.tail = bytes.subarray(begin, end)
    this.#bytes = bytes
  }

  file(): Uint8Array {
    return this.#bytes.subarray(0, this.begin)
  }
}
