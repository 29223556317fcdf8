/**
 * The deterministic operation stream of the crash tests, shared by the writer child and the
 * checking parent: operation `i` is a checkpoint or a record whose bytes depend only on
 * (seed, i). Records are often hostile to recovery by magic numbers: empty, leading or
 * trailing zero runs, magic numbers inside the data.
 */
import { CHECKPOINT_BYTES, concat, crashRecord } from './aof-model.ts'

export type CrashOp = { kind: 'checkpoint' } | { kind: 'write' | 'append' | 'writeNonBlocking'; bytes: Uint8Array; slack: number }

function mix(seed: number, i: number): number {
  let h = Math.imul(seed ^ 0x27d4eb2f, 0x165667b1) ^ Math.imul(i + 7, 0x9e3779b1)
  h ^= h >>> 15
  h = Math.imul(h, 0x85ebca77)
  h ^= h >>> 13
  return h >>> 0
}

export function crashOp(seed: number, i: number, maxSize: number): CrashOp {
  const h = mix(seed, i)
  if (h % 23 === 0) return { kind: 'checkpoint' }
  const bytes = crashRecord(seed, i, maxSize)
  const pick = (h >>> 8) % 4
  const slack = (h >>> 12) % 64
  if (pick === 0) return { kind: 'append', bytes, slack }
  if (pick === 1) return { kind: 'writeNonBlocking', bytes, slack }
  return { kind: 'write', bytes, slack }
}

/** The bytes operation `i` adds to the data. */
export function opBytes(op: CrashOp): Uint8Array {
  return op.kind === 'checkpoint' ? CHECKPOINT_BYTES : op.bytes
}

/** Expected data of the first n operations, computed incrementally. */
export class ExpectedStream {
  readonly #parts: Uint8Array[] = []
  readonly #ends: number[] = [0]
  readonly seed: number
  readonly maxSize: number
  constructor(seed: number, maxSize: number) {
    this.seed = seed
    this.maxSize = maxSize
  }

  /** Data size after the first n operations. */
  end(n: number): number {
    while (this.#ends.length <= n) {
      const i = this.#ends.length - 1
      const bytes = opBytes(crashOp(this.seed, i, this.maxSize))
      this.#parts.push(bytes)
      this.#ends.push(this.#ends[i]! + bytes.length)
    }
    return this.#ends[n]!
  }

  /** Data of the first n operations. */
  data(n: number): Uint8Array {
    this.end(n)
    return concat(this.#parts.slice(0, n))
  }

  /** Every n whose data size is `size` (empty records make several). */
  countsWithSize(size: number, from: number, to: number): number[] {
    const found: number[] = []
    for (let n = from; n <= to; n++) if (this.end(n) === size) found.push(n)
    return found
  }
}
