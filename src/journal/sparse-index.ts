/**
 * A sparse index file beside a segment: fixed 16-byte records of two little-endian unsigned
 * 64-bit integers, appended in order, the first field strictly increasing, the second never
 * decreasing (docs/FORMAT.md, "The journal"). The offset index holds `(position, offset)`
 * pairs, the time index `(time, position)` pairs. An index is only a hint: the writer checks
 * it against the data when it opens a segment and drops what does not fit (a torn record,
 * records past the data).
 * @module
 */
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'

import { fromSystemError } from '../errors.ts'
import { fdatasyncAsync } from '../io/durable.ts'

/** Bytes per index record. */
export const INDEX_RECORD_SIZE = 16

/** The records of an index, as two parallel arrays. */
export interface IndexRecords {
  /** First field of each record. */
  readonly first: number[]
  /** Second field of each record. */
  readonly second: number[]
}

/** Decodes whole records from `bytes` into `into`, stopping at a torn or out-of-order one. */
function decode(bytes: Uint8Array, length: number, into: IndexRecords): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, length)
  const whole = length - (length % INDEX_RECORD_SIZE)
  for (let at = 0; at < whole; at += INDEX_RECORD_SIZE) {
    const first = Number(view.getBigUint64(at, true))
    const second = Number(view.getBigUint64(at + 8, true))
    const count = into.first.length
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second)) return
    if (count > 0 && (first <= into.first[count - 1]! || second < into.second[count - 1]!)) return
    into.first.push(first)
    into.second.push(second)
  }
}

/** The read buffer of {@link readIndexFrom}: reads are synchronous, so one serves them all. */
const chunk = new Uint8Array(64 * 1024)

/**
 * Reads the records of the index open as `fd` from record `fromRecord` on, appending them to
 * `into`; a torn last record is left out. A follower of a growing index keeps its descriptor
 * and calls this again for what was appended since.
 * @returns `into`.
 */
export function readIndexFrom(fd: number, into: IndexRecords, fromRecord: number): IndexRecords {
  try {
    let position = fromRecord * INDEX_RECORD_SIZE
    for (;;) {
      const length = readSync(fd, chunk, 0, chunk.length, position)
      const whole = length - (length % INDEX_RECORD_SIZE)
      if (whole === 0) break
      const before = into.first.length
      decode(chunk, whole, into)
      if (into.first.length - before < whole / INDEX_RECORD_SIZE) break
      position += whole
      if (length < chunk.length) break
    }
  } catch {
    // An index cut while being read is only a missing hint.
  }
  return into
}

/**
 * Reads the records of the index at `path` from record `fromRecord` on, appending them to
 * `into`. A missing file reads as empty; a torn last record is left out.
 * @returns `into`.
 */
export function readIndex(path: string, into: IndexRecords = { first: [], second: [] }, fromRecord = 0): IndexRecords {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return into
  }
  try {
    return readIndexFrom(fd, into, fromRecord)
  } finally {
    closeSync(fd)
  }
}

/**
 * Index of the last record whose field (`first` or `second`, as chosen by `key`) is at most
 * `value`, or -1.
 */
export function lastAtMost(values: readonly number[], value: number): number {
  let low = 0
  let high = values.length - 1
  let found = -1
  while (low <= high) {
    const middle = (low + high) >>> 1
    if (values[middle]! <= value) {
      found = middle
      low = middle + 1
    } else {
      high = middle - 1
    }
  }
  return found
}

/** The writer's side of an index file: its records in memory, appends written at once. */
export class IndexWriter {
  readonly path: string
  readonly records: IndexRecords
  readonly #fd: number
  readonly #record = new Uint8Array(INDEX_RECORD_SIZE)
  readonly #view = new DataView(this.#record.buffer)
  #dirty = false
  // Syncs run one after another, and close() waits for the last.
  #syncing: Promise<void> = Promise.resolve()

  /**
   * Opens (creating) the index at `path` and keeps the records `keep` accepts, in order,
   * cutting the file after the last one kept.
   */
  constructor(path: string, keep: (first: number, second: number) => boolean) {
    this.path = path
    const found = readIndex(path)
    let kept = 0
    while (kept < found.first.length && keep(found.first[kept]!, found.second[kept]!)) kept++
    this.records = { first: found.first.slice(0, kept), second: found.second.slice(0, kept) }
    try {
      this.#fd = openSync(path, 'a+')
    } catch (error) {
      throw fromSystemError(error, path, 'create')
    }
    try {
      ftruncateSync(this.#fd, kept * INDEX_RECORD_SIZE)
    } catch (error) {
      closeSync(this.#fd)
      throw fromSystemError(error, path, 'truncate')
    }
  }

  /** Appends one record (to the page cache: a process crash keeps it). */
  append(first: number, second: number): void {
    this.#view.setBigUint64(0, BigInt(first), true)
    this.#view.setBigUint64(8, BigInt(second), true)
    try {
      writeSync(this.#fd, this.#record)
    } catch (error) {
      throw fromSystemError(error, this.path, 'write')
    }
    this.records.first.push(first)
    this.records.second.push(second)
    this.#dirty = true
  }

  /** Makes the records appended so far durable (one fdatasync when any were appended). */
  sync(): Promise<void> {
    const run = this.#syncing.then(() => this.#fdatasync())
    this.#syncing = run.catch(() => undefined)
    return run
  }

  async #fdatasync(): Promise<void> {
    if (!this.#dirty) return
    this.#dirty = false
    try {
      await fdatasyncAsync(this.#fd, this.path)
    } catch (error) {
      this.#dirty = true
      throw error
    }
  }

  /** Closes the file once the syncs in flight are done. */
  async close(): Promise<void> {
    await this.#syncing
    closeSync(this.#fd)
  }
}
