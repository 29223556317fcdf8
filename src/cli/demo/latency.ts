/**
 * A latency histogram with about 3 % resolution: 32 linear sub-buckets per power of two, so
 * recording is a few integer operations and memory stays fixed however long the demo runs.
 * @module
 */
import type { LatencySummary } from './protocol.ts'

const SUB_BITS = 5
const SUB = 1 << SUB_BITS
/** Enough powers of two for 2^52 ns (52 days). */
const BUCKETS = (52 - SUB_BITS + 1) * SUB + SUB

function bucketOf(ns: number): number {
  if (ns < SUB) return Math.max(0, Math.floor(ns))
  const exponent = Math.floor(Math.log2(ns))
  const shift = exponent - SUB_BITS
  // Values in [2^exponent, 2^(exponent+1)) share SUB buckets of width 2^shift.
  return Math.min(BUCKETS - 1, (shift + 1) * SUB + Math.floor(ns / 2 ** shift) - SUB)
}

function valueOf(bucket: number): number {
  if (bucket < SUB) return bucket
  const shift = Math.floor(bucket / SUB) - 1
  // The middle of the bucket.
  return ((bucket % SUB) + SUB) * 2 ** shift + 2 ** shift / 2
}

/** Counts latencies in nanoseconds; reports percentiles. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS)
  #count = 0
  #max = 0

  /** Records one latency in ns (negative values, impossible on one monotonic clock, count as 0). */
  record(ns: number): void {
    const value = ns > 0 ? ns : 0
    this.#counts[bucketOf(value)]!++
    this.#count++
    if (value > this.#max) this.#max = value
  }

  /** The latency below which `fraction` of the recorded ones lie (0 when empty). */
  percentile(fraction: number): number {
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil(fraction * this.#count))
    let seen = 0
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket]!
      if (seen >= rank) return Math.min(valueOf(bucket), this.#max)
    }
    return this.#max
  }

  /** Count, p50, p99 and max. */
  summary(): LatencySummary {
    return { count: this.#count, p50: this.percentile(0.5), p99: this.percentile(0.99), max: this.#max }
  }

  /** Forgets everything recorded. */
  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#max = 0
  }
}
