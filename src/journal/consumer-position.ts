/**
 * A durable consumer's committed position: `consumers/<name>.position` (see docs/FORMAT.md,
 * "Consumer positions"). The file holds two checksummed slots, written in place alternately: a
 * commit writes the slot not holding the newest position and fdatasyncs it (one flush), and a
 * reader takes the valid slot with the highest sequence, so a torn slot leaves the other one.
 * The file itself is created whole (temporary file, fdatasync, rename, fsync of the folder)
 * when the consumer is created or reset, and when the first commit finds the older one-record
 * file, which is still read.
 * @module
 */
import { closeSync, fstatSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'

import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError, isAofkitError } from '../errors.ts'
import { checksumRange } from '../log/checksum.ts'
import { fdatasyncAsync, renameDurably } from '../io/durable.ts'
import { openRegularFile } from '../io/regular-file.ts'
import { CONSUMERS_DIR } from './layout.ts'

/** The older format: one 32-byte record, replaced whole at each commit. */
const MAGIC_V1 = 'AOFKJCP1'
const FILE_SIZE_V1 = 32
/** The slot format: two records of {@link SLOT_SIZE} bytes, at offsets 0 and {@link SLOT_STRIDE}. */
const MAGIC = 'AOFKJCP2'
const SLOT_SIZE = 40
/** Each slot in a 4 KiB block of its own: a torn write of one cannot touch the other. */
const SLOT_STRIDE = 4096
const FILE_SIZE = 2 * SLOT_STRIDE
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const SUFFIX = '.position'
/** Reads that find neither slot valid before the file is called damaged (a read can overlap two writes). */
const READ_ATTEMPTS = 3

/** A consumer's stored position. */
export interface StoredPosition {
  /** The first position not yet handled: the committed position plus one (0: none committed). */
  readonly next: number
  /** When it was committed (ms since the epoch). */
  readonly time: number
}

/** A position as the slot that holds it. */
interface Slot extends StoredPosition {
  /** Which slot (0 or 1). */
  readonly index: number
  /** The slot's write count: the valid slot with the highest holds the newest position. */
  readonly sequence: number
}

/** Refuses a consumer name that is not a safe file name (1–128 of A–Z a–z 0–9 _ . -, not leading '.' or '-'). */
export function checkConsumerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.endsWith('.tmp')) {
    throw invalidArgument(`a consumer name must be 1 to 128 of A-Z a-z 0-9 _ . - (not starting with . or -), got ${JSON.stringify(name)}`)
  }
}

/** The position file of consumer `name`. */
export function positionPath(dir: string, name: string): string {
  return join(dir, CONSUMERS_DIR, name + SUFFIX)
}

/** The lock file of consumer `name`. */
export function consumerLockPath(dir: string, name: string): string {
  return join(dir, CONSUMERS_DIR, `${name}.lock`)
}

const ascii = new TextEncoder()
const MAGIC_BYTES = ascii.encode(MAGIC)
const MAGIC_V1_BYTES = ascii.encode(MAGIC_V1)

function hasMagic(bytes: Uint8Array, at: number, magic: Uint8Array): boolean {
  for (let k = 0; k < magic.length; k++) if (bytes[at + k] !== magic[k]) return false
  return true
}

/** Writes a slot record (magic, sequence, next, time, checksum) at `at` of `bytes`. */
function encodeSlot(bytes: Uint8Array, at: number, sequence: number, next: number, time: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  bytes.set(MAGIC_BYTES, at)
  view.setBigUint64(at + 8, BigInt(sequence), true)
  view.setBigUint64(at + 16, BigInt(next), true)
  view.setBigUint64(at + 24, BigInt(Math.max(0, Math.floor(time))), true)
  view.setBigUint64(at + 32, BigInt(checksumRange(bytes, at, at + 32)), true)
}

/** The slot record at `at`, or null when it is not a valid one (torn, never written). */
function decodeSlot(bytes: Uint8Array, at: number, index: number): Slot | null {
  if (bytes.length < at + SLOT_SIZE || !hasMagic(bytes, at, MAGIC_BYTES)) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (Number(view.getBigUint64(at + 32, true)) !== checksumRange(bytes, at, at + 32)) return null
  return { index, sequence: Number(view.getBigUint64(at + 8, true)), next: Number(view.getBigUint64(at + 16, true)), time: Number(view.getBigUint64(at + 24, true)) }
}

/** A whole new position file: slot 0 holds `next` at `sequence`, slot 1 is empty. */
function encodeFile(sequence: number, next: number, time: number): Uint8Array {
  const bytes = new Uint8Array(FILE_SIZE)
  encodeSlot(bytes, 0, sequence, next, time)
  return bytes
}

/** The newest position in `bytes` (either format), or null when no record in it is valid. */
function decodeFile(bytes: Uint8Array): Slot | null {
  if (bytes.length === FILE_SIZE_V1 && hasMagic(bytes, 0, MAGIC_V1_BYTES)) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (Number(view.getBigUint64(24, true)) !== checksumRange(bytes, 0, 24)) return null
    // The older format has one record: as a slot written once, so the next write is slot 1.
    return { index: 0, sequence: 0, next: Number(view.getBigUint64(8, true)), time: Number(view.getBigUint64(16, true)) }
  }
  if (bytes.length !== FILE_SIZE) return null
  const first = decodeSlot(bytes, 0, 0)
  const second = decodeSlot(bytes, SLOT_STRIDE, 1)
  if (first === null) return second
  if (second === null) return first
  return second.sequence > first.sequence ? second : first
}

function damaged(path: string): AofkitError {
  return new AofkitError(ErrorCode.Corrupted, `consumer position file '${path}' is damaged`, { path })
}

/** The newest slot of the file at `path`, or null when there is no file. */
function readSlot(path: string): Slot | null {
  for (let attempt = 1; ; attempt++) {
    let bytes: Uint8Array
    let fd: number
    try {
      // Without waiting, a regular file only: a named pipe put at the path would block the open.
      fd = openRegularFile(path)
    } catch (error) {
      if (isAofkitError(error, ErrorCode.NotFound)) return null
      throw error
    }
    try {
      bytes = readFileSync(fd)
    } catch (error) {
      throw fromSystemError(error, path, 'read')
    } finally {
      closeSync(fd)
    }
    const slot = decodeFile(bytes)
    if (slot !== null) return slot
    // Neither slot valid: this read may have met a slot being written and then the other.
    if (attempt >= READ_ATTEMPTS) throw damaged(path)
  }
}

/**
 * Reads consumer `name`'s position, or null when it has none.
 * @throws {@link AofkitError} ERR_AOF_CORRUPTED for a file that is not a valid position file.
 */
export function readPosition(dir: string, name: string): StoredPosition | null {
  const slot = readSlot(positionPath(dir, name))
  return slot === null ? null : { next: slot.next, time: slot.time }
}

/**
 * Replaces consumer `name`'s position file with a new one holding `next` (temporary file,
 * fdatasync, rename, folder fsync): a crash leaves the old file or the new one.
 */
async function createPositionFile(dir: string, name: string, next: number, sequence: number): Promise<void> {
  const path = positionPath(dir, name)
  const temporary = `${path}.tmp`
  try {
    const handle = await open(temporary, 'w', 0o644)
    try {
      await handle.write(encodeFile(sequence, next, Date.now()))
      await handle.datasync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw fromSystemError(error, temporary, 'write')
  }
  await renameDurably(temporary, path)
}

/** Replaces consumer `name`'s position durably with a new file (at creation and reset). */
export function writePosition(dir: string, name: string, next: number): Promise<void> {
  return createPositionFile(dir, name, next, 1)
}

/**
 * The position file of an open consumer instance (which holds the consumer's lock, so it is
 * the only writer): each {@link PositionWriter.write} is one slot write and one fdatasync.
 * Writes must not overlap (the consumer runs one at a time).
 */
export class PositionWriter {
  readonly #dir: string
  readonly #name: string
  readonly #path: string
  readonly #slot = new Uint8Array(SLOT_SIZE)
  /** The file open for writing in place, once it is in the slot format. */
  #fd: number | null = null
  /** The slot the next write goes to, and its sequence. */
  #index: number
  #sequence: number
  #closed = false

  /**
   * Reads the consumer's position file (either format).
   * @throws {@link AofkitError} ERR_AOF_NOT_FOUND when it has none, ERR_AOF_CORRUPTED.
   */
  constructor(dir: string, name: string) {
    this.#dir = dir
    this.#name = name
    this.#path = positionPath(dir, name)
    const slot = readSlot(this.#path)
    if (slot === null) throw new AofkitError(ErrorCode.NotFound, `journal '${dir}' has no consumer '${name}'`, { path: this.#path })
    this.stored = slot
    this.#index = 1 - slot.index
    this.#sequence = slot.sequence + 1
    // A file in the older format (sequence 0) is replaced at the first write instead.
    if (slot.sequence > 0) this.#openInPlace()
  }

  /** The position the file held when this writer opened it. */
  readonly stored: StoredPosition

  /**
   * Makes `next` the stored position, durably: one slot write and its fdatasync (the first
   * write of a file in the older format replaces it with one in the slot format instead).
   * On failure the slot holding the last durable position is left alone: the next write goes
   * to the same slot again.
   */
  async write(next: number): Promise<void> {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, `consumer '${this.#name}' of journal '${this.#dir}' is closed`, { path: this.#path })
    const time = Date.now()
    if (this.#fd === null) {
      // Not in the slot format yet (written by an older version): replaced whole, once.
      await createPositionFile(this.#dir, this.#name, next, this.#sequence)
      this.#index = 1
      this.#sequence++
      this.#openInPlace()
      return
    }
    encodeSlot(this.#slot, 0, this.#sequence, next, time)
    const fd = this.#fd
    try {
      writeSync(fd, this.#slot, 0, SLOT_SIZE, this.#index * SLOT_STRIDE)
    } catch (error) {
      throw fromSystemError(error, this.#path, 'write')
    }
    await fdatasyncAsync(fd, this.#path)
    this.#index = 1 - this.#index
    this.#sequence++
  }

  /** Opens the file for writing in place when it is in the slot format (as at creation). */
  #openInPlace(): void {
    let fd: number
    try {
      fd = openSync(this.#path, 'r+')
    } catch (error) {
      throw fromSystemError(error, this.#path, 'open')
    }
    try {
      if (fstatSync(fd).size !== FILE_SIZE) {
        closeSync(fd)
        return
      }
    } catch (error) {
      closeSync(fd)
      throw fromSystemError(error, this.#path, 'stat')
    }
    this.#fd = fd
  }

  /** Closes the file (no write may be in flight). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#fd !== null) closeSync(this.#fd)
    this.#fd = null
  }
}

/** The names of the consumers that have a position file, sorted. */
export function consumerNames(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(join(dir, CONSUMERS_DIR))
  } catch {
    return []
  }
  return names
    .filter((name) => name.endsWith(SUFFIX))
    .map((name) => name.slice(0, -SUFFIX.length))
    .sort()
}
