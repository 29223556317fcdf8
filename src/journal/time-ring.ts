/**
 * The journal's recent time records in shared memory (`times-shm`, docs/FORMAT.md, "The time
 * ring"): the writer publishes each time record here as it appends, before the entry's data,
 * and writes the records to the segment's time index file later, in batches (at most
 * {@link RING_PENDING_MAX} at a time, at a sync, a roll and a close). A reader that sees an
 * entry finds its time here without a system call; one that lags further behind than the
 * ring reaches finds it in the time index file, which by then holds it. After a crash of the
 * writer's process the next writer copies into the time index what only the ring held.
 *
 * The ring is a page mapped by the writer and by its readers: a header, then
 * {@link RING_SLOTS} slots of (time, position), each record in the slot of its sequence
 * number modulo the slot count, and the count of records published. The writer stores a
 * record's slot, then the count; a reader reads the count, the slots from the newest back,
 * then the count again, and keeps what the writer cannot have overwritten meanwhile.
 * @module
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs'
import { join } from 'node:path'

import { allocate } from '../aof/allocate.ts'
import { currentBootWords } from '../aof/shm.ts'
import { fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { timeIndexPath } from './layout.ts'
import { readIndex } from './sparse-index.ts'
import type { IndexRecords } from './sparse-index.ts'

/** The ring's file in the journal directory. */
export const TIME_RING_NAME = 'times-shm'
/** "JTIM", little-endian. */
const MAGIC = 0x4d49544a
const VERSION = 1
/** Bytes of the file. */
export const TIME_RING_SIZE = 4096
/** Slots (a power of two, so that slot numbers stay in step when the 32-bit count wraps). */
export const RING_SLOTS = 128
/**
 * Records the writer keeps unwritten to the time index file, at most: well under the slots, so
 * a record leaves the ring only after it is in the file.
 */
export const RING_PENDING_MAX = 64

// 32-bit word indexes of the header, then of the slots (4 words each: time low, time high,
// position low, position high).
const W_MAGIC = 0
const W_VERSION = 1
const W_COUNT = 2
const W_BOOT = 4
const W_MOUNT = 8
const W_SLOTS = 16
const MASK = RING_SLOTS - 1
const HIGH = 2 ** 32

/** A time record: the entries from `position` on were appended at `time`. */
export interface TimeRecord {
  time: number
  position: number
}

/** The ring's path in `dir`. */
export function timeRingPath(dir: string): string {
  return join(dir, TIME_RING_NAME)
}

/** True when the ring was written in this boot: otherwise it is what a power cut left. */
function sameBoot(words: Int32Array): boolean {
  const boot = currentBootWords()
  for (let k = 0; k < 4; k++) if (words[W_BOOT + k] !== boot[k]) return false
  return true
}

/** The shared page of recent time records (the writer's side or a reader's). */
export class TimeRing {
  readonly #fd: number
  readonly #mapping: ArrayBuffer
  readonly #words: Int32Array
  readonly #slots: Uint32Array
  /** The mount the file is on, as the ring records it ({@link native.mountId}, 0 where unknown). */
  readonly #mount: number
  /**
   * Once the ring holds this boot's id it keeps it (a writer empties and stamps a ring only
   * when it differs), so a reader checks it until it matches.
   */
  #current = false
  #closed = false

  private constructor(fd: number, mapping: ArrayBuffer) {
    this.#fd = fd
    this.#mount = native.mountId(fd) | 0
    this.#mapping = mapping
    this.#words = new Int32Array(mapping, 0, TIME_RING_SIZE / 4)
    this.#slots = new Uint32Array(mapping, 0, TIME_RING_SIZE / 4)
  }

  /**
   * The writer's ring of `dir`, created when missing. One from before the last boot or mount
   * (its records may be torn by a power cut, and what they name may be gone) is emptied.
   * @throws {@link AofkitError} when the file cannot be created or mapped.
   */
  static openWriter(dir: string): TimeRing {
    const path = timeRingPath(dir)
    let fd: number
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644)
    } catch (error) {
      throw fromSystemError(error, path, 'create')
    }
    let ring: TimeRing
    try {
      if (fstatSync(fd).size < TIME_RING_SIZE) allocate(fd, 0, TIME_RING_SIZE)
      ring = new TimeRing(fd, native.map(fd, TIME_RING_SIZE, true))
    } catch (error) {
      closeSync(fd)
      throw fromSystemError(error, path, 'create')
    }
    const words = ring.#words
    // From another boot, or from before the file system was mounted again (shut down, say):
    // what reached the device, which may be torn. Another mount of the same file system (a
    // bind mount) empties it too: its writer's unwritten records are lost, as in a power cut.
    if (words[W_MAGIC] !== MAGIC || words[W_VERSION] !== VERSION || !sameBoot(words) || words[W_MOUNT] !== ring.#mount) {
      // The count first: a reader that read the old count sees it change and trusts no slot.
      Atomics.store(words, W_COUNT, 0)
      for (let k = W_SLOTS; k < words.length; k++) words[k] = 0
      words.set(currentBootWords(), W_BOOT)
      words[W_MOUNT] = ring.#mount
      words[W_VERSION] = VERSION
      Atomics.store(words, W_MAGIC, MAGIC)
    }
    return ring
  }

  /**
   * A reader's view of the ring of `dir`, or null when there is none yet (a journal whose
   * writer has not made one): then every time comes from the time index files.
   */
  static openReader(dir: string): TimeRing | null {
    let fd: number
    try {
      fd = openSync(timeRingPath(dir), 'r')
    } catch {
      return null
    }
    try {
      if (fstatSync(fd).size < TIME_RING_SIZE) {
        closeSync(fd)
        return null
      }
      return new TimeRing(fd, native.map(fd, TIME_RING_SIZE, false))
    } catch {
      closeSync(fd)
      return null
    }
  }

  /**
   * Publishes a record (the writer's, before the entry at `position` is appended). It stays
   * in the ring for the next {@link RING_SLOTS} − 1 records.
   */
  publish(time: number, position: number): void {
    const count = Atomics.load(this.#words, W_COUNT) >>> 0
    const at = W_SLOTS + (count & MASK) * 4
    const slots = this.#slots
    slots[at] = time >>> 0
    slots[at + 1] = Math.floor(time / HIGH)
    slots[at + 2] = position >>> 0
    slots[at + 3] = Math.floor(position / HIGH)
    Atomics.store(this.#words, W_COUNT, (count + 1) | 0)
  }

  /**
   * The time of the entry at `position` (one that is in a segment starting at `base`): the
   * time of the newest record published at or before it. -1 when the ring cannot tell: the
   * record left the ring (the time index file has it), the ring was made after it, or it is
   * from another boot.
   */
  timeOf(position: number, base: number): number {
    const words = this.#words
    const slots = this.#slots
    if (!this.#current) {
      if (!sameBoot(words)) return -1
      this.#current = true
    }
    const first = Atomics.load(words, W_COUNT) >>> 0
    for (let age = 0; age < RING_SLOTS - 1; age++) {
      const at = W_SLOTS + ((first - 1 - age) & MASK) * 4
      const time = slots[at]! + slots[at + 1]! * HIGH
      if (time === 0) return -1
      const at_ = slots[at + 2]! + slots[at + 3]! * HIGH
      if (at_ > position) continue
      // Kept only if the writer cannot have reused the slot since the first look at the count.
      const now = Atomics.load(words, W_COUNT) >>> 0
      if (((now - first) >>> 0) + 1 + age >= RING_SLOTS) return -1
      return at_ >= base ? time : -1
    }
    return -1
  }

  /**
   * The records in force, oldest first: a record replaces every older one at or after its
   * position (a writer that reopens the journal publishes one for the entries to come). Those
   * the writer may have overwritten while they were read are left out; empty for a ring from
   * another boot.
   */
  records(): TimeRecord[] {
    const words = this.#words
    const slots = this.#slots
    if (words[W_MAGIC] !== MAGIC || !sameBoot(words)) return []
    const first = Atomics.load(words, W_COUNT) >>> 0
    const found: TimeRecord[] = []
    for (let age = 0; age < RING_SLOTS - 1; age++) {
      const at = W_SLOTS + ((first - 1 - age) & MASK) * 4
      const time = slots[at]! + slots[at + 1]! * HIGH
      if (time === 0) break
      found.push({ time, position: slots[at + 2]! + slots[at + 3]! * HIGH })
    }
    const now = Atomics.load(words, W_COUNT) >>> 0
    // Records of these ages or older may have been overwritten meanwhile.
    found.length = Math.min(found.length, Math.max(0, RING_SLOTS - 1 - ((now - first) >>> 0)))
    const kept: TimeRecord[] = []
    for (let k = found.length - 1; k >= 0; k--) {
      const record = found[k]!
      while (kept.length > 0 && kept[kept.length - 1]!.position >= record.position) kept.pop()
      kept.push(record)
    }
    return kept
  }

  /** Unmaps the ring. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    native.unmap(this.#mapping)
    closeSync(this.#fd)
  }
}

/**
 * The time records of the segment of `dir` that starts at `base` and ends before `end`: its
 * time index file's, then those the writer has published and not yet written there.
 */
export function segmentTimes(dir: string, base: number, end = Infinity): IndexRecords {
  const times = readIndex(timeIndexPath(dir, base))
  const ring = TimeRing.openReader(dir)
  if (ring === null) return times
  try {
    for (const { time, position } of ring.records()) {
      const count = times.first.length
      if (position < base || position >= end) continue
      if (count > 0 && (time <= times.first[count - 1]! || position <= times.second[count - 1]!)) continue
      times.first.push(time)
      times.second.push(position)
    }
  } finally {
    ring.close()
  }
  return times
}
