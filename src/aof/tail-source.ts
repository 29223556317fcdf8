/**
 * TailSource: what a follower follows, whether pushed to (a {@link Tailer}) or pulling (the
 * iterator of `tail()`): an open file in this thread, or a reader of one in another thread or
 * process.
 * @module
 */
import { invalidArgument } from '../arguments.ts'
import type { AofkitError } from '../errors.ts'
import type { FileState } from './file-state.ts'
import type { Tailer } from './tailer.ts'

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
 * A follower's position past the end of a finished file: it can never be reached. (Past the
 * end of a file still written, followers wait for the data to reach it.)
 */
export function pastTheEnd(position: number, end: number): AofkitError {
  return invalidArgument(`offset ${position} is past the end of the finished file (${end} bytes)`)
}
