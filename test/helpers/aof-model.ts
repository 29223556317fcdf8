/**
 * A byte-level model of what AppendOnlyFile lays out on disk, for recovery tests: data from
 * offset 0, a MagicTail after every write, checkpoint() writing a MagicCheckpoint into the
 * stream, finish() writing a MagicCheckpoint after the data and truncating. Written from
 * docs/FORMAT.md and the Go `aof` package's documentation, not from src/aof, so that it can disagree with the implementation.
 */
import { MAGIC_CHECKPOINT, MAGIC_TAIL } from '../../src/aof/magic.ts'

export const TAIL_BYTES = le64(MAGIC_TAIL)
export const CHECKPOINT_BYTES = le64(MAGIC_CHECKPOINT)

export function le64(value: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, value, true)
  return out
}

/** One operation of the writer. */
export type Op = { kind: 'write'; bytes: Uint8Array } | { kind: 'checkpoint' }

/** The data stream of a sequence of operations, and where each real checkpoint sits. */
export interface Stream {
  data: Uint8Array
  /** Offsets of the MagicCheckpoints written by checkpoint(). */
  checkpoints: number[]
  /** Data size after each operation. */
  ends: number[]
}

export function streamOf(ops: readonly Op[]): Stream {
  const parts: Uint8Array[] = []
  const checkpoints: number[] = []
  const ends: number[] = []
  let size = 0
  for (const op of ops) {
    if (op.kind === 'write') {
      parts.push(op.bytes)
      size += op.bytes.length
    } else {
      checkpoints.push(size)
      parts.push(CHECKPOINT_BYTES)
      size += 8
    }
    ends.push(size)
  }
  return { data: concat(parts), checkpoints, ends }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export function roundUp(size: number, multiple: number): number {
  return Math.ceil(size / multiple) * multiple
}

/**
 * The file image of a live writer after `ops`: the stream, a MagicTail after it when at least
 * one operation ran, zeros up to `fileSize` (at least big enough).
 */
export function liveImage(ops: readonly Op[], pageSize: number, extraPages = 0): { image: Uint8Array; stream: Stream } {
  const stream = streamOf(ops)
  const used = stream.data.length + (ops.length > 0 ? 8 : 0)
  const image = new Uint8Array(roundUp(Math.max(used, 1), pageSize) + extraPages * pageSize)
  image.set(stream.data, 0)
  if (ops.length > 0) image.set(TAIL_BYTES, stream.data.length)
  return { image, stream }
}

/** The image of a finished file: the stream, a MagicCheckpoint, nothing after it. */
export function finishedImage(ops: readonly Op[]): { image: Uint8Array; stream: Stream } {
  const stream = streamOf(ops)
  return { image: concat([stream.data, CHECKPOINT_BYTES]), stream }
}

/** Every offset where `pattern` occurs in `bytes[0, end)`. */
export function occurrences(bytes: Uint8Array, pattern: Uint8Array, end = bytes.length): number[] {
  const found: number[] = []
  outer: for (let i = 0; i + pattern.length <= end; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer
    found.push(i)
  }
  return found
}

const pools = new Map<number, Uint8Array>()

/** 64 KiB of seeded pseudo-random bytes (xorshift32), cached per seed. */
function pool(seed: number): Uint8Array {
  let bytes = pools.get(seed)
  if (bytes !== undefined) return bytes
  bytes = new Uint8Array(64 * 1024)
  const words = new Uint32Array(bytes.buffer)
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1
  for (let k = 0; k < words.length; k++) {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    words[k] = state
  }
  pools.set(seed, bytes)
  return bytes
}

/**
 * Deterministic record `i` of a crash test (at most `maxSize` bytes, at most 32 KiB): its size
 * and bytes depend only on (seed, i). Many are hostile to recovery by magic numbers.
 */
export function crashRecord(seed: number, i: number, maxSize: number): Uint8Array {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0 || 1
  const next = (): number => {
    // xorshift32
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
  for (let k = 0; k < 4; k++) next()
  const limit = Math.min(maxSize, 32 * 1024)
  const shape = next() % 8
  const size = shape === 0 ? 0 : shape === 1 ? next() % 16 : shape === 2 ? next() % limit : next() % Math.min(512, limit)
  const from = next() % (32 * 1024)
  const bytes = pool(seed).slice(from, from + size)
  if (size >= 8) {
    // Hostile content: zero runs at both ends (a torn copy looks like "nothing written") and
    // the magic numbers inside the data.
    const flavor = next() % 4
    if (flavor === 0) bytes.fill(0, 0, Math.min(size, 16))
    if (flavor === 1) bytes.fill(0, Math.max(0, size - 16))
    if (flavor === 2) bytes.set(TAIL_BYTES, next() % (size - 7))
    if (flavor === 3) bytes.set(CHECKPOINT_BYTES, next() % (size - 7))
  }
  return bytes
}
