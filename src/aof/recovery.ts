/**
 * Recovery: finding where the data of an existing file ends. Files grow in zero-filled steps,
 * so the data ends at the last non-zero byte; after every write that byte ends a MagicTail,
 * and at the end of a finished file it ends a MagicCheckpoint. See docs/FORMAT.md.
 * @module
 */
import { DEFAULT_MAGIC, MAGIC_SIZE } from './magic.ts'
import type { Magic } from './magic.ts'

/** What recovery found (the Go `aof` package's RecoveryKind, with its numbers). */
export const RecoveryKind = {
  /** No data: the file is empty or all zeros. `tail` is 0. */
  Empty: 0,
  /** The data does not end with a magic number. `tail` is the last checkpoint's end, or 0. */
  Corrupted: 1,
  /** The data ends with a MagicTail at `tail`: the normal state of a live file. */
  Tail: 2,
  /** The data ends with a MagicCheckpoint at `tail`: a finished file. */
  Checkpoint: 3,
  /** The recovery function threw; `error` holds what it threw. */
  Panic: 4,
} as const

/** One of the {@link RecoveryKind} values. */
export type RecoveryKind = (typeof RecoveryKind)[keyof typeof RecoveryKind]

/** The result of a recovery function (the Go `aof` package's RecoveryResult). */
export interface RecoveryResult {
  /** The magic numbers recovery looked for. */
  magic: Magic
  /** What was found. */
  outcome: RecoveryKind
  /** The file size recovery was given. */
  fileSize: number
  /** Offset of the MagicCheckpoint recovery relied on, or -1 when it relied on none. */
  checkpoint: number
  /** The size of the recovered data: where the next write goes. */
  tail: number
  /** Why the outcome is Corrupted or Panic. */
  error?: Error
}

/**
 * A recovery function: given the file size and the file's bytes (at least `fileSize` long),
 * it says where the data ends. It must not modify `bytes`.
 */
export type RecoveryFunction = (fileSize: number, bytes: Uint8Array, magic: Magic) => RecoveryResult

/** Index of the last non-zero byte of `bytes[0, end)`, or -1; scans whole words where it can. */
export function lastNonZero(bytes: Uint8Array, end: number): number {
  let index = end - 1
  // Bytes down to a 4-byte aligned address, then whole words, then the bytes before them.
  while (index >= 0 && (bytes.byteOffset + index + 1) % 4 !== 0) {
    if (bytes[index] !== 0) return index
    index--
  }
  const wordEnd = (bytes.byteOffset + index + 1) / 4
  const wordBegin = Math.ceil(bytes.byteOffset / 4)
  if (wordEnd > wordBegin) {
    const words = new Uint32Array(bytes.buffer, wordBegin * 4, wordEnd - wordBegin)
    let word = words.length - 1
    while (word >= 3 && (words[word]! | words[word - 1]! | words[word - 2]! | words[word - 3]!) === 0) word -= 4
    while (word >= 0 && words[word] === 0) word--
    if (word >= 0) {
      index = (wordBegin + word) * 4 - bytes.byteOffset + 3
      while (bytes[index] === 0) index--
      return index
    }
    index = wordBegin * 4 - bytes.byteOffset - 1
  }
  while (index >= 0) {
    if (bytes[index] !== 0) return index
    index--
  }
  return -1
}

/** The little-endian magic number at `offset`. */
export function readMagic(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, MAGIC_SIZE).getBigUint64(0, true)
}

/** Offset of the last MagicCheckpoint that ends at or before `end`, or -1. */
export function findLastCheckpoint(bytes: Uint8Array, end: number, checkpoint: bigint): number {
  const lastByte = Number(checkpoint >> 56n)
  for (let index = end - 1; index >= MAGIC_SIZE - 1; index--) {
    if (bytes[index] === lastByte && readMagic(bytes, index - (MAGIC_SIZE - 1)) === checkpoint) {
      return index - (MAGIC_SIZE - 1)
    }
  }
  return -1
}

/**
 * The default recovery (the Go `aof` package's RecoverWithMagic), as a pure function.
 *
 * It skips the zeros at the end of the file and looks at the 8 bytes that end at the last
 * non-zero byte: a MagicTail gives `Tail`, a MagicCheckpoint gives `Checkpoint` (a finished
 * file); anything else gives `Corrupted`, with `tail` set to the end of the last MagicCheckpoint
 * in the data (the last point a writer marked as consistent) or 0. Its time grows with the
 * zero region it skips, not with the file's size, except when the file is corrupted and it has
 * to search for a checkpoint. Where this differs from the Go `aof` package's code, docs/FORMAT.md says why.
 */
export function recoverWithMagic(fileSize: number, bytes: Uint8Array, magic: Magic = DEFAULT_MAGIC): RecoveryResult {
  const result: RecoveryResult = { magic, outcome: RecoveryKind.Empty, fileSize, checkpoint: -1, tail: 0 }
  try {
    if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
      result.outcome = RecoveryKind.Corrupted
      result.error = new Error(`fileSize must be a non-negative integer, got ${String(fileSize)}`)
      return result
    }
    if (fileSize > bytes.length) {
      result.outcome = RecoveryKind.Corrupted
      result.error = new Error(`fileSize ${fileSize} is greater than the ${bytes.length} bytes given`)
      return result
    }
    const last = lastNonZero(bytes, fileSize)
    if (last < 0) return result
    const end = last + 1
    const magicDisabled = magic.tail === 0n || magic.checkpoint === 0n
    if (magicDisabled) {
      // Without magic numbers the data simply ends at the last non-zero byte.
      result.outcome = RecoveryKind.Tail
      result.tail = end
      return result
    }
    if (end >= MAGIC_SIZE) {
      const found = readMagic(bytes, end - MAGIC_SIZE)
      if (found === magic.tail) {
        result.outcome = RecoveryKind.Tail
        result.tail = end - MAGIC_SIZE
        return result
      }
      if (found === magic.checkpoint) {
        result.outcome = RecoveryKind.Checkpoint
        result.tail = end - MAGIC_SIZE
        result.checkpoint = end - MAGIC_SIZE
        return result
      }
    }
    result.outcome = RecoveryKind.Corrupted
    const checkpoint = findLastCheckpoint(bytes, last, magic.checkpoint)
    if (checkpoint >= 0) {
      result.checkpoint = checkpoint
      result.tail = checkpoint + MAGIC_SIZE
      result.error = new Error(
        `no magic number ends the data (last non-zero byte at ${last}); the last checkpoint is at ${checkpoint}`,
      )
    } else {
      result.error = new Error(`no magic number ends the data (last non-zero byte at ${last}) and no checkpoint`)
    }
    return result
  } catch (error) {
    result.outcome = RecoveryKind.Panic
    result.error = error instanceof Error ? error : new Error(String(error))
    return result
  }
}

/**
 * {@link recoverWithMagic} for a file read through `read(target, position)` rather than held in
 * memory (a file larger than any mapping, or a reader that never maps), with one buffer of
 * `chunk` bytes (1 MiB): it finds the last non-zero byte going back a chunk at a time, runs
 * recoverWithMagic on the chunk that ends there and, when that finds corrupted data without a
 * checkpoint, searches the chunks before it for the last MagicCheckpoint. Same result; except
 * that past `zerosMax` bytes of zeros at the end it gives up: Corrupted, tail 0.
 */
export function recoverFromEnd(
  fileSize: number,
  read: (target: Uint8Array, position: number) => void,
  magic: Magic = DEFAULT_MAGIC,
  { chunk = 1 << 20, zerosMax = Number.POSITIVE_INFINITY }: { chunk?: number; zerosMax?: number } = {},
): RecoveryResult {
  const buffer = new Uint8Array(Math.min(Math.max(chunk, 2 * MAGIC_SIZE), Math.max(fileSize, 1)))
  let last = -1
  for (let end = fileSize; end > 0 && last < 0; end -= buffer.length) {
    if (fileSize - end > zerosMax) {
      // Pages of zeros only, further back than a writer ever allocates ahead: no data to find.
      const error = new Error(`the last ${fileSize - end} bytes are zeros`)
      return { magic, outcome: RecoveryKind.Corrupted, fileSize, checkpoint: -1, tail: 0, error }
    }
    const begin = Math.max(0, end - buffer.length)
    const view = buffer.subarray(0, end - begin)
    read(view, begin)
    const index = lastNonZero(view, view.length)
    if (index >= 0) last = begin + index
  }
  if (last < 0) return { magic, outcome: RecoveryKind.Empty, fileSize, checkpoint: -1, tail: 0 }
  // The window ends at the last non-zero byte; when it does not start at 0 it is a whole
  // buffer long, so it holds the 8 bytes that end the data.
  const base = Math.max(0, last + 1 - buffer.length)
  const window = buffer.subarray(0, last + 1 - base)
  read(window, base)
  const result = recoverWithMagic(window.length, window, magic)
  if (result.outcome !== RecoveryKind.Corrupted || result.checkpoint >= 0 || base === 0) {
    const tail = result.outcome === RecoveryKind.Panic ? 0 : result.tail + (result.outcome === RecoveryKind.Corrupted && result.checkpoint < 0 ? 0 : base)
    return { ...result, fileSize, tail, checkpoint: result.checkpoint >= 0 ? result.checkpoint + base : -1 }
  }
  // Corrupted, and no checkpoint in the window: look for one before it.
  for (let end = base + MAGIC_SIZE - 1; end >= MAGIC_SIZE; end -= buffer.length - (MAGIC_SIZE - 1)) {
    const begin = Math.max(0, end - buffer.length)
    const view = buffer.subarray(0, end - begin)
    read(view, begin)
    const found = findLastCheckpoint(view, view.length, magic.checkpoint)
    if (found >= 0) return { ...result, fileSize, checkpoint: begin + found, tail: begin + found + MAGIC_SIZE }
    if (begin === 0) break
  }
  return { ...result, fileSize, checkpoint: -1, tail: 0 }
}
