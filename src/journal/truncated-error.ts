/**
 * The error of a reader whose next entry retention has deleted.
 * @module
 */
import { AofkitError, ErrorCode } from '../errors.ts'

/**
 * ERR_JOURNAL_TRUNCATED: the entry at {@link JournalTruncatedError.position} is gone; the
 * oldest entry left is at {@link JournalTruncatedError.firstPosition}.
 */
export class JournalTruncatedError extends AofkitError {
  /** The position the reader needed. */
  readonly position: number
  /** The first position still available. */
  readonly firstPosition: number

  constructor(dir: string, position: number, firstPosition: number) {
    super(
      ErrorCode.JournalTruncated,
      `entry ${position} of journal '${dir}' was deleted by retention; the first available is ${firstPosition}`,
      { path: dir },
    )
    this.name = 'AofkitError'
    this.position = position
    this.firstPosition = firstPosition
  }
}

/** What a reader that skips deleted entries is told (`onTruncated`). */
export interface TruncatedGap {
  /** The position the reader needed. */
  readonly from: number
  /** Where it goes on: the first position still available. */
  readonly to: number
  /** Entries lost: `to - from`. */
  readonly lost: number
}
