/**
 * The committed size in the `-shm` sidecar, and the memory ordering that makes it safe to
 * follow: the writer stores it with release ordering after the data and the MagicTail, readers
 * load it with acquire ordering, so a reader (or a recovery) that sees a size sees every byte
 * below it, on any CPU (ARM64 reorders plain stores; x86 does not). It is a u64 in two 32-bit
 * words, stored and loaded with `Atomics`; no BigInt on the write path. Every read and write of
 * the field goes through {@link publishCommittedSize} and {@link loadCommittedSize}
 * (docs/FORMAT.md, "The committed size").
 *
 * One exception, for the cost of every write: on x86 an `Atomics.store` is sequentially
 * consistent, a locked `xchg` that costs about 10 ns here against 1–2 ns for a plain store (a
 * write of 16 bytes takes 40–60 ns in all), while a plain store there already has release
 * ordering (x86 keeps stores in program order, string copies included, and V8 keeps stores to
 * memory in program order). So on x86 the low word of a size within the same 4 GiB step is
 * stored plainly; the three stores of a step, which must never be merged or dropped, stay
 * `Atomics`. On ARM64, where `Atomics.store` is a store-release (`stlr`), every store is one.
 * @module
 */
import { ShmIndex } from './shm-layout.ts'

const LOW = ShmIndex.committedLow
const HIGH = ShmIndex.committedHigh
const TWO_32 = 4294967296
/** The high word while the writer changes the low one across a 4 GiB step. */
const STEPPING = -1
/** Loads of a page whose high word says a step is under way before giving up on it. */
const TRIES = 64
/** Whether a plain store has release ordering on this CPU (x86's total store order). */
const PLAIN_STORE_RELEASES = process.arch === 'x64' || process.arch === 'ia32'

/**
 * Publishes `size` (a safe integer) as the committed size in the sidecar words `words`, with
 * release ordering. Within one 4 GiB step only the low word changes; when the high word must
 * change, it reads -1 while the low word changes, so a reader never pairs a new low word with
 * an old high one. Called by the writer only, which alone stores these words.
 */
export function publishCommittedSize(words: Int32Array, size: number): void {
  const low = size | 0
  // No division below 4 GiB, where every write's size lies but for the largest files.
  const high = size < TWO_32 ? 0 : (size - (low >>> 0)) / TWO_32
  if (words[HIGH] !== high) publishAcrossStep(words, low, high)
  else if (PLAIN_STORE_RELEASES) words[LOW] = low
  else Atomics.store(words, LOW, low)
}

/**
 * The rare half of {@link publishCommittedSize}, a function of its own so that the common half
 * stays small enough for V8 to inline it into every write.
 */
function publishAcrossStep(words: Int32Array, low: number, high: number): void {
  Atomics.store(words, HIGH, STEPPING)
  Atomics.store(words, LOW, low)
  Atomics.store(words, HIGH, high)
}

/**
 * The committed size in the sidecar words `words`, loaded with acquire ordering: the high word,
 * the low word, the high word again, retried while they disagree or a 4 GiB step is under way.
 * NaN when the step never ends within a few tries: a writer paused there (a reader then keeps
 * the last size it saw) or killed there (the size is not to be trusted: recovery reads the
 * bytes instead).
 */
export function loadCommittedSize(words: Int32Array): number {
  for (let tries = 0; tries < TRIES; tries++) {
    const high = Atomics.load(words, HIGH)
    if (high === STEPPING) continue
    const low = Atomics.load(words, LOW)
    if (Atomics.load(words, HIGH) === high) return high * TWO_32 + (low >>> 0)
  }
  return Number.NaN
}
