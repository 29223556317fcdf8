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
import { closeSync, fstatSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { allocate } from '../aof/allocate.ts'
import { currentBootWords } from '../aof/shm.ts'
import { fromSystemError } from '../errors.ts'
import { openRegularFile } from '../io/regular-file.ts'
import * as native from '../native/binding.ts'
import { timeIndexPath } from './layout.ts'
import { readIndex } from './sparse-index.ts'
import type { IndexRecords } from './sparse-index.ts'

/** The ring's file in the journal directory. */
export const TIME_RING_NAME = 'times-shm'
/** "JTIM", little-endian. */
const MAGIC = 0x4d49544a
/** 2 since the header names the journal's directory (a ring of version 1 is not used). */
const VERSION = 2
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
const W_DIRECTORY = 10
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

/**
 * The journal directory's inode number as two 32-bit words (low, high), which the ring records
 * so that a ring copied in from another journal is not taken for this one's.
 */
function directoryWords(dir: string): [number, number] {
  const inode = statSync(dir, { bigint: true }).ino
  return [Number(inode & 0xffffffffn) | 0, Number((inode >> 32n) & 0xffffffffn) | 0]
}

/** The shared page of recent time records (the writer's side or a reader's). */
export class TimeRing {
  readonly #dir: string
  readonly #directory: [number, number]
  readonly #writable: boolean
  #fd: number
  #mapping: ArrayBuffer
  #words: Int32Array
  #slots: Uint32Array
  /** The mount the file is on, as the ring records it ({@link native.mountId}, 0 where unknown). */
  #mount: number
  /**
   * Once the ring holds this boot's id and this directory's (a writer empties and stamps a ring
   * only when they differ), a reader stops checking them ({@link TimeRing.stale} tells a ring
   * copied over this one).
   */
  #current = false
  #closed = false

  /**
   * The position of the record {@link TimeRing.timeOf} last answered with: equal to the
   * position asked for when that entry has a record of its own.
   */
  answeredAt = -1

  private constructor(dir: string, writable: boolean, fd: number) {
    this.#dir = dir
    this.#writable = writable
    this.#directory = directoryWords(dir)
    this.#fd = fd
    this.#mapping = native.map(fd, TIME_RING_SIZE, writable)
    this.#mount = native.mountId(fd) | 0
    this.#words = new Int32Array(this.#mapping, 0, TIME_RING_SIZE / 4)
    this.#slots = new Uint32Array(this.#mapping, 0, TIME_RING_SIZE / 4)
  }

  /**
   * The writer's ring of `dir`, created when missing. One from before the last boot or mount
   * (its records may be torn by a power cut, and what they name may be gone), or stamped with
   * another directory (copied in from another journal), is emptied.
   * @throws {@link AofkitError} when the file cannot be created or mapped.
   */
  static openWriter(dir: string): TimeRing {
    const fd = openWritable(dir)
    let ring: TimeRing
    try {
      ring = new TimeRing(dir, true, fd)
    } catch (error) {
      closeSync(fd)
      throw fromSystemError(error, timeRingPath(dir), 'create')
    }
    ring.#claim()
    return ring
  }

  /**
   * A reader's view of the ring of `dir`, or null when there is none (a journal whose writer
   * has not made one, a file cut short, or something else than a file at the path): then every
   * time comes from the time index files.
   */
  static openReader(dir: string): TimeRing | null {
    let fd: number
    try {
      // Without waiting, a regular file only: a named pipe put at the path would block the open.
      fd = openRegularFile(timeRingPath(dir))
    } catch {
      return null
    }
    try {
      if (fstatSync(fd).size < TIME_RING_SIZE) {
        closeSync(fd)
        return null
      }
      return new TimeRing(dir, false, fd)
    } catch {
      closeSync(fd)
      return null
    }
  }

  /** Empties and stamps a ring this writer cannot take over (see {@link TimeRing.openWriter}). */
  #claim(): void {
    const words = this.#words
    // From another boot, or from before the file system was mounted again (shut down, say):
    // what reached the device, which may be torn. Another mount of the same file system (a
    // bind mount) empties it too: its writer's unwritten records are lost, as in a power cut.
    if (this.#usable() && words[W_MOUNT] === this.#mount) return
    // The count first: a reader that read the old count sees it change and trusts no slot.
    Atomics.store(words, W_COUNT, 0)
    Atomics.store(words, W_MAGIC, 0)
    for (let k = W_SLOTS; k < words.length; k++) words[k] = 0
    words.set(currentBootWords(), W_BOOT)
    words[W_MOUNT] = this.#mount
    words[W_DIRECTORY] = this.#directory[0]
    words[W_DIRECTORY + 1] = this.#directory[1]
    words[W_VERSION] = VERSION
    Atomics.store(words, W_MAGIC, MAGIC)
  }

  /** True when the page is a ring of this version, of this journal's directory, from this boot. */
  #usable(): boolean {
    const words = this.#words
    return (
      words[W_MAGIC] === MAGIC &&
      words[W_VERSION] === VERSION &&
      words[W_DIRECTORY] === this.#directory[0] &&
      words[W_DIRECTORY + 1] === this.#directory[1] &&
      sameBoot(words)
    )
  }

  /**
   * True when the file mapped is no longer the journal's ring: deleted, renamed away or renamed
   * over (the path names another file, or none, even while the old file keeps a link), cut
   * short (now, or once while mapped: the page then reads zeros here, see docs/FORMAT.md,
   * "Mappings: zeros, never SIGBUS"), or stamped for another directory (copied over). Two
   * system calls.
   */
  stale(): boolean {
    if (native.faults(this.#mapping) > 0) return true
    try {
      const stats = fstatSync(this.#fd, { bigint: true })
      if (stats.nlink === 0n || stats.size < BigInt(TIME_RING_SIZE)) return true
      const named = statSync(timeRingPath(this.#dir), { bigint: true })
      if (named.ino !== stats.ino || named.dev !== stats.dev) return true
    } catch {
      return true
    }
    const words = this.#words
    // The writer's page lost its stamp: cut and grown back before its mapping met the cut, or
    // written over in place.
    if (this.#writable && !this.#usable()) return true
    if (words[W_MAGIC] === MAGIC && (words[W_DIRECTORY] !== this.#directory[0] || words[W_DIRECTORY + 1] !== this.#directory[1])) return true
    return false
  }

  /**
   * The writer's repair of a {@link TimeRing.stale} ring: maps the ring at the path again,
   * creating it (or emptying what is there, as at open), so that readers opened from now on
   * find the records published from now on. The caller has written the records only the old
   * ring held to the time index file first, and publishes the one in force after.
   * @throws {@link AofkitError} when the file cannot be created or mapped; the old one stays.
   */
  renew(): void {
    const fd = openWritable(this.#dir)
    let mapping: ArrayBuffer
    try {
      mapping = native.map(fd, TIME_RING_SIZE, true)
    } catch (error) {
      closeSync(fd)
      throw fromSystemError(error, timeRingPath(this.#dir), 'create')
    }
    native.unmap(this.#mapping)
    closeSync(this.#fd)
    this.#fd = fd
    this.#mapping = mapping
    this.#mount = native.mountId(fd) | 0
    this.#words = new Int32Array(mapping, 0, TIME_RING_SIZE / 4)
    this.#slots = new Uint32Array(mapping, 0, TIME_RING_SIZE / 4)
    this.#current = false
    this.#claim()
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
   * from another boot or directory.
   */
  timeOf(position: number, base: number): number {
    const words = this.#words
    const slots = this.#slots
    if (!this.#current) {
      if (!this.#usable()) return -1
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
      if (at_ < base) return -1
      this.answeredAt = at_
      return time
    }
    return -1
  }

  /**
   * The records in force, oldest first: a record replaces every older one at or after its
   * position (a writer that reopens the journal publishes one for the entries to come). Those
   * the writer may have overwritten while they were read are left out; empty for a ring from
   * another boot or directory.
   */
  records(): TimeRecord[] {
    const words = this.#words
    const slots = this.#slots
    if (!this.#usable()) return []
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
 * Opens (creating) the ring's file of `dir` for the writer, at least a page long.
 * @throws {@link AofkitError} when it cannot.
 */
function openWritable(dir: string): number {
  const path = timeRingPath(dir)
  const fd = openRegularFile(path, 'create')
  try {
    if (fstatSync(fd).size < TIME_RING_SIZE) allocate(fd, 0, TIME_RING_SIZE)
  } catch (error) {
    closeSync(fd)
    throw fromSystemError(error, path, 'create')
  }
  return fd
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
