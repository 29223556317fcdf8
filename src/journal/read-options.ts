/**
 * The options of a journal's `read()` and `follow()`, and their checks.
 * @module
 */
import { invalidArgument, optionsOf } from '../arguments.ts'
import type { From } from './positions.ts'
import type { OnTruncated } from './read-entries.ts'

/** Options of `read()`. */
export interface ReadOptions {
  /** Where to start. Default: `'start'`. */
  from?: From
  /** Stop before this position. Default: read to the end as it is when reached. */
  to?: number
  /**
   * Called when the entry to read next was deleted by retention: the reader skips to the first
   * entry still kept and goes on. Without it, reading throws ERR_JOURNAL_TRUNCATED.
   */
  onTruncated?: OnTruncated
}

/** Options of `follow()`. */
export interface FollowOptions {
  /** Where to start. Default: `'start'`. */
  from?: From
  /** Stops following with an AbortError. */
  signal?: AbortSignal
  /** As in {@link ReadOptions.onTruncated}. */
  onTruncated?: OnTruncated
}

/** Checks the options shared by `read()` and `follow()`. */
export function checkReadOptions(given: ReadOptions | FollowOptions | undefined): ReadOptions & FollowOptions {
  const options = optionsOf(given) as ReadOptions & FollowOptions
  if (options.to !== undefined && (!Number.isSafeInteger(options.to) || options.to < 0)) {
    throw invalidArgument(`to must be a non-negative integer position, got ${String(options.to)}`)
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgument('signal must be an AbortSignal')
  if (options.onTruncated !== undefined && typeof options.onTruncated !== 'function') throw invalidArgument('onTruncated must be a function')
  return options
}
