/**
 * The write path of an {@link AppendOnlyFile}: make room, fill the mapping, commit. A commit
 * writes the 8-byte MagicTail after the data, then publishes the committed size in the `-shm`
 * sidecar, then wakes the followers: a reader or a recovery that sees a size always finds the
 * bytes and the magic before it. The file checks its state and the caller's arguments first.
 * @module
 */
import { checkBytes, describeValue, invalidArgument, invalidBytes } from '../arguments.ts'
import { copyBytes } from '../io/copy-bytes.ts'
import { FillEvent } from './append-event.ts'
import type { AppendFunction } from './append-event.ts'
import { publishCommittedSize } from './committed-size.ts'
import type { Geometry } from './geometry.ts'
import type { Growth } from './growth.ts'
import { MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL, magicWords } from './magic.ts'
import type { Sidecar } from './shm.ts'
import { HEAD_SIZE, ShmIndex } from './shm.ts'
import type { WriterWakeups } from './wake-up.ts'

const [TAIL_LOW, TAIL_HIGH] = magicWords(MAGIC_TAIL)
const [CHECKPOINT_LOW, CHECKPOINT_HIGH] = magicWords(MAGIC_CHECKPOINT)

/**
 * Refuses a count of bytes to reserve (`name`) that is not a non-negative integer or can never
 * fit, with its MagicTail, below the geometry's `sizeUpper`.
 */
export function checkReserve(value: number, name: string, geometry: Geometry): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be a non-negative integer, got ${describeValue(value)}`)
  }
  if (value + MAGIC_SIZE > geometry.sizeUpper) {
    throw invalidArgument(`${name} ${value} can never fit below geometry.sizeUpper ${geometry.sizeUpper}`)
  }
}

/** @internal What the write path writes into and publishes through. */
export interface WriteTarget {
  /** The whole mapping. */
  bytes: Uint8Array
  sidecar: Sidecar | null
  /** Committed data bytes when the file was opened. */
  size: number
  lastCheckpoint: number
}

/**
 * @internal The data bytes of an open file and how they are appended: the committed size, the
 * last checkpoint, and whether an append function is filling a reservation.
 */
export class WritePath {
  /** Committed data bytes: everything every returned write wrote. */
  size: number
  /** Offset of the last checkpoint written, or -1. */
  lastCheckpoint: number
  /** An append function is filling its reservation: nothing else may write meanwhile. */
  appending = false
  /** The whole mapping (empty once the file is closed). */
  bytes: Uint8Array
  #view: DataView
  #sidecar: Sidecar | null
  /** The sidecar's 32-bit words, or a private stand-in, so the hot path never branches. */
  #published: Int32Array
  readonly #growth: Growth
  readonly #wakeups: WriterWakeups

  constructor(target: WriteTarget, growth: Growth, wakeups: WriterWakeups) {
    this.size = target.size
    this.lastCheckpoint = target.lastCheckpoint
    this.bytes = target.bytes
    this.#view = new DataView(target.bytes.buffer, target.bytes.byteOffset, target.bytes.byteLength)
    this.#sidecar = target.sidecar
    this.#published = target.sidecar?.words ?? new Int32Array(ShmIndex.committedHigh + 1)
    this.#growth = growth
    this.#wakeups = wakeups
  }

  /** Appends `bytes`; `blocking`: may grow the file itself (else `ERR_AOF_WOULD_BLOCK`). */
  write(bytes: Uint8Array, blocking: boolean): void {
    // What passed the caller's instanceof test and still is not bytes (a Proxy, a view of a
    // detached buffer, an object made to look like a Uint8Array) throws or gives no length
    // here, and is refused before anything is copied: no check costs the hot path anything.
    const begin = this.size
    let end: number
    try {
      end = begin + bytes.length
    } catch (error) {
      throw invalidBytes(bytes, 'bytes', error)
    }
    // Written so that a NaN end takes this branch too.
    if (!(end + MAGIC_SIZE <= this.#growth.allocated)) this.#makeRoomFor(bytes, end, blocking)
    try {
      copyBytes(this.bytes, bytes, begin)
    } catch (error) {
      throw invalidBytes(bytes, 'bytes', error)
    }
    this.#commit(end, blocking)
  }

  /**
   * The rare half of {@link write}, apart so that the half every write runs stays small enough
   * for V8 to inline into the caller's loop (its budget for a caller is about 900 bytes of
   * bytecode, counted over everything it inlines there).
   */
  #makeRoomFor(bytes: Uint8Array, end: number, blocking: boolean): void {
    if (!Number.isSafeInteger(end)) throw invalidBytes(bytes, 'bytes')
    this.#growth.makeRoom(end + MAGIC_SIZE, this.size, blocking)
  }

  /** Appends `records` together, with one commit, and returns their bytes; growth blocks. */
  writeBatch(records: readonly Uint8Array[]): number {
    const list: unknown = records
    if (!Array.isArray(list)) throw invalidArgument(`records must be an array of Uint8Arrays, got ${describeValue(records)}`)
    let total = 0
    for (const record of records) {
      checkBytes(record, 'every record')
      total += record.length
    }
    const begin = this.size
    const end = begin + total
    if (end + MAGIC_SIZE > this.#growth.allocated) this.#growth.makeRoom(end + MAGIC_SIZE, begin, true)
    const bytes = this.bytes
    let at = begin
    for (const record of records) {
      copyBytes(bytes, record, at)
      at += record.length
    }
    this.#commit(end)
    return total
  }

  /**
   * Reserves `reserve` bytes, lets `fn` fill them through a {@link FillEvent}, and commits as
   * many as it says it used (the rest zeroed). A throwing `fn` leaves nothing behind.
   */
  append(reserve: number, fn: AppendFunction, blocking: boolean): number {
    const begin = this.size
    const end = begin + reserve
    if (end + MAGIC_SIZE > this.#growth.allocated) this.#growth.makeRoom(end + MAGIC_SIZE, begin, blocking)
    const bytes = this.bytes
    let used: unknown
    this.appending = true
    try {
      used = fn(new FillEvent(bytes, begin, end))
    } catch (error) {
      this.#undoFill(begin, end)
      throw error
    } finally {
      this.appending = false
    }
    let count = typeof used === 'number' && used > 0 ? Math.floor(used) : 0
    if (count > reserve) count = reserve
    if (count < reserve) bytes.fill(0, begin + count, end)
    this.#commit(begin + count, blocking)
    return count
  }

  /** Appends exactly `size` bytes that `fill` writes into the mapping at `at`; growth blocks. */
  appendFill(size: number, fill: (target: Uint8Array, at: number) => void): void {
    const begin = this.size
    const end = begin + size
    if (end + MAGIC_SIZE > this.#growth.allocated) this.#growth.makeRoom(end + MAGIC_SIZE, begin, true)
    this.appending = true
    try {
      fill(this.bytes, begin)
    } catch (error) {
      this.#undoFill(begin, end)
      throw error
    } finally {
      this.appending = false
    }
    this.#commit(end)
  }

  /** Writes a MagicCheckpoint into the stream and returns its offset. */
  checkpoint(): number {
    const begin = this.size
    const end = begin + MAGIC_SIZE
    if (end + MAGIC_SIZE > this.#growth.allocated) this.#growth.makeRoom(end + MAGIC_SIZE, begin, true)
    this.#view.setUint32(begin, CHECKPOINT_LOW, true)
    this.#view.setUint32(begin + 4, CHECKPOINT_HIGH, true)
    this.#commit(end)
    this.lastCheckpoint = begin
    this.#sidecar?.setLastCheckpoint(begin)
    return begin
  }

  /**
   * Finishing: writes the MagicCheckpoint that ends the file over the MagicTail after the data
   * (the committed size stays) and returns the file's final length.
   */
  sealWithCheckpoint(): number {
    const at = this.size
    this.#view.setUint32(at, CHECKPOINT_LOW, true)
    this.#view.setUint32(at + 4, CHECKPOINT_HIGH, true)
    return at + MAGIC_SIZE
  }

  /** The file closed: its mapping and sidecar are gone; nothing is read or written through them. */
  release(): void {
    this.bytes = new Uint8Array(0)
    this.#view = new DataView(this.bytes.buffer)
    this.#sidecar = null
    this.#published = new Int32Array(ShmIndex.committedHigh + 1)
  }

  /** `blocking`: the caller may wait for the disk (growth), so a burst may grow here at once. */
  #commit(end: number, blocking = true): void {
    // MagicTail first, then the committed size, with release ordering: a reader or a recovery
    // that sees the size always finds the bytes and the magic before it.
    const view = this.#view
    view.setUint32(end, TAIL_LOW, true)
    view.setUint32(end + 4, TAIL_HIGH, true)
    // The file's first bytes go to the sidecar before a size that covers them: they tell
    // recovery that the sidecar is this file's (docs/FORMAT.md, "When the sidecar counts").
    if (this.size < HEAD_SIZE) this.#noteHead(end)
    this.size = end
    publishCommittedSize(this.#published, end)
    if (end >= this.#growth.nextCheck) this.#growth.advance(end, blocking)
    this.#wakeups.committed(end)
  }

  /** The rare half of {@link #commit}'s note of the file's first bytes (see {@link #makeRoomFor}). */
  #noteHead(end: number): void {
    this.#sidecar?.noteHead(this.bytes, end)
  }

  /** Erases what a failed fill scribbled over `[begin, end)`, including the MagicTail at `begin`. */
  #undoFill(begin: number, end: number): void {
    this.bytes.fill(0, begin, end)
    this.#view.setUint32(begin, TAIL_LOW, true)
    this.#view.setUint32(begin + 4, TAIL_HIGH, true)
  }
}
