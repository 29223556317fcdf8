/**
 * The options of `Journal.open`, checked and with their defaults.
 * @module
 */
import { describeValue, invalidArgument, optionsOf } from '../arguments.ts'
import { SIZE_UPPER_MAX } from '../aof/geometry.ts'

/** How much a journal keeps (see `Journal.open`). Every limit is optional. */
export interface RetentionOptions {
  /** Delete the oldest segments while the journal's data exceeds this many bytes. */
  maxBytes?: number
  /** Delete a segment once its newest entry is older than this (ms). */
  maxAgeMs?: number
  /** Delete the oldest segments while there are more than this many. */
  maxSegments?: number
  /**
   * A hard limit: delete the oldest segments while the data exceeds this many bytes even when
   * a durable consumer has not committed their entries (it then gets ERR_JOURNAL_TRUNCATED).
   */
  hardMaxBytes?: number
  /** A hard limit by age (ms), as `hardMaxBytes`. */
  hardMaxAgeMs?: number
}

/** Options of `Journal.open`. */
export interface JournalOptions {
  /** Create the directory and the journal if missing. Default: false. */
  create?: boolean
  /**
   * Roll to a new segment when an append would make the open one larger than this many bytes
   * (a larger entry gets a segment of its own). Default: 64 MiB; at least 4096.
   */
  segmentBytes?: number
  /**
   * Also roll once the open segment's first entry is this old (ms), so that retention by age
   * can delete an idle journal's entries too (it deletes finished segments only). Default: the
   * smaller of `retention.maxAgeMs` and `retention.hardMaxAgeMs` when either is set (an entry
   * is then deleted at most about twice that age after it was appended, even when nothing is
   * appended after it), else never.
   */
  segmentMs?: number
  /** What to delete, oldest segments first. Default: keep everything. */
  retention?: RetentionOptions
}

/** Options after checking. */
export interface CheckedOptions {
  create: boolean
  segmentBytes: number
  segmentMs: number
  retention: Required<RetentionOptions>
}

/** Default `segmentBytes`: 64 MiB. */
export const SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024
const SEGMENT_BYTES_MIN = 4096

function positive(value: unknown, name: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return Infinity
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum || value > maximum) {
    throw invalidArgument(`${name} must be a number from ${minimum} to ${maximum}, got ${describeValue(value)}`)
  }
  return value
}

/** Checks the options of `Journal.open`. */
export function checkOptions(given: JournalOptions | undefined): CheckedOptions {
  const options = optionsOf(given)
  if (options.create !== undefined && typeof options.create !== 'boolean') throw invalidArgument('options.create must be a boolean')
  const segmentBytes = options.segmentBytes === undefined ? SEGMENT_BYTES_DEFAULT : positive(options.segmentBytes, 'segmentBytes', SEGMENT_BYTES_MIN, SIZE_UPPER_MAX)
  if (!Number.isSafeInteger(segmentBytes)) throw invalidArgument(`segmentBytes must be an integer, got ${String(segmentBytes)}`)
  const limits = optionsOf(options.retention, 'options.retention')
  const retention = {
    maxBytes: positive(limits.maxBytes, 'retention.maxBytes', 0),
    maxAgeMs: positive(limits.maxAgeMs, 'retention.maxAgeMs', 0),
    maxSegments: positive(limits.maxSegments, 'retention.maxSegments', 1),
    hardMaxBytes: positive(limits.hardMaxBytes, 'retention.hardMaxBytes', 0),
    hardMaxAgeMs: positive(limits.hardMaxAgeMs, 'retention.hardMaxAgeMs', 0),
  }
  // Without a roll by age, an age limit would never reach the open segment: a journal that
  // goes idle would keep its last entries forever.
  const segmentMs = options.segmentMs === undefined ? Math.max(1, Math.min(retention.maxAgeMs, retention.hardMaxAgeMs)) : positive(options.segmentMs, 'segmentMs', 1)
  return { create: options.create === true, segmentBytes, segmentMs, retention }
}
