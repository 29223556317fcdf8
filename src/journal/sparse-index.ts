/**
 * A sparse index file beside a segment: fixed 16-byte records of two little-endian unsigned
 * 64-bit integers, appended in order, the first field strictly increasing, the second never
 * decreasing (docs/FORMAT.md, "The journal"). The offset index holds `(position, offset)`
 * pairs, the time index `(time, position)` pairs. An index is only a hint: the writer checks
 * it against the data when it opens a segment and drops what does not fit (a torn record,
 * records past the data).
 * @module
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs'

import { fromSystemError } from '../errors.ts'
import { openRegularFile } from '../io/regular-file.ts'
import { fdatasyncAsync } from '../io/durable.ts'
import { writeU64 } from '../log/format.ts'
import * as native from '../native/binding.ts'

/** Bytes per index record. */
export const INDEX_RECORD_SIZE = 16

/** The records of an index, as two parallel arrays. */
export interface IndexRecords {
  /** First field of each record. */
  readonly first: number[]
  /** Second field of each record. */
  readonly second: number[]
}

/** The unsigned 64-bit little-endian integer at `at`, as a number (unsafe above 2^53). */
function u64(view: DataView, at: number): number {
  // Two 32-bit halves: no BigInt per field, which made reading a segment's index (4,096
  // records) take a millisecond.
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32
}

/** Decodes whole records from `bytes` into `into`, stopping at a torn or out-of-order one. */
function decode(bytes: Uint8Array, length: number, into: IndexRecords): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, length)
  const whole = length - (length % INDEX_RECORD_SIZE)
  for (let at = 0; at < whole; at += INDEX_RECORD_SIZE) {
    const first = u64(view, at)
    const second = u64(view, at + 8)
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
      // The addon's pread: a live follower reads the time index at every wake-up, and
      // fs.readSync's argument checks and request cost more than the system call.
      const length = native.pread(fd, chunk, 0, chunk.length, position)
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
    // Without waiting, a regular file only: a named pipe put at the path would block the open.
    fd = openRegularFile(path)
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

/** The writer's side of an index file: its records in memory, appends written at once or later. */
export class IndexWriter {
  readonly path: string
  readonly records: IndexRecords
  readonly #fd: number
  readonly #record: Uint8Array
  /** Records written together (1: each at once). */
  readonly #batch: number
  /** With batches: wait this long before writing what is pending (0: until the loop turns). */
  readonly #deferMs: number
  #pending = 0
  #flushing: NodeJS.Immediate | null = null
  #timer: NodeJS.Timeout | null = null
  #dirty = false
  readonly #afterWrite: (() => void) | undefined
  // Syncs run one after another, and close() waits for the last.
  #syncing: Promise<void> = Promise.resolve()

  /**
   * Opens (creating) the index at `path` and keeps the records `keep` accepts, in order,
   * cutting the file after the last one kept. With `batch` above 1, records are written up to
   * `batch` at a time: a burst of appends costs no system call per record. Without `deferMs`
   * (for an index that is only a hint, rebuilt from the data after a crash) the rest is written
   * once the event loop turns, and a failed write loses only hints. With `deferMs` (the time
   * index, whose pending records the journal's time ring holds meanwhile) the rest is written
   * that many milliseconds later, or by {@link IndexWriter.flush}, `sync()` or `close()`; a
   * failed write keeps them pending, and an append finding `batch` records pending writes them
   * first or throws. `afterWrite` is called after each write of records (it must not throw).
   */
  constructor(path: string, keep: (first: number, second: number) => boolean, batch = 1, deferMs = 0, afterWrite?: () => void) {
    this.path = path
    this.#afterWrite = afterWrite
    this.#batch = batch
    this.#deferMs = deferMs
    this.#record = new Uint8Array(INDEX_RECORD_SIZE * batch)
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

  /** Records appended and not yet written to the file. */
  get pending(): number {
    return this.#pending
  }

  /**
   * Makes room for one more record, so that the next {@link IndexWriter.append} writes
   * nothing and cannot fail: writes the pending records when `batch` are.
   * @throws {@link AofkitError} when that write fails; they stay pending.
   */
  reserve(): void {
    if (this.#pending === this.#batch) this.#write()
  }

  /**
   * Appends one record (to the page cache once written: a process crash keeps it; with
   * batches, a crash may lose the last batch's records, which only makes a hint sparser).
   * @throws {@link AofkitError} when a write it had to make failed; nothing is appended then.
   */
  append(first: number, second: number): void {
    if (this.#pending === this.#batch) this.#write()
    const at = this.#pending * INDEX_RECORD_SIZE
    // No BigInt per field.
    writeU64(this.#record, at, first)
    writeU64(this.#record, at + 8, second)
    this.#pending++
    if (this.#batch === 1) {
      try {
        this.#write()
      } catch (error) {
        this.#pending = 0
        throw error
      }
    } else if (this.#deferMs > 0) {
      this.#timer ??= setTimeout(this.#flushLater, this.#deferMs).unref()
    } else if (this.#pending === this.#batch) {
      this.#flushQuietly()
    } else {
      this.#flushing ??= setImmediate(() => this.#flushQuietly())
    }
    this.records.first.push(first)
    this.records.second.push(second)
    this.#dirty = true
  }

  /** Writes the pending records; on failure they stay pending. */
  #write(): void {
    try {
      writeSync(this.#fd, this.#record, 0, this.#pending * INDEX_RECORD_SIZE)
    } catch (error) {
      throw fromSystemError(error, this.path, 'write')
    }
    this.#pending = 0
    if (this.#flushing !== null) clearImmediate(this.#flushing)
    this.#flushing = null
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#afterWrite?.()
  }

  /**
   * Writes the records appended so far to the file (the page cache).
   * @throws {@link AofkitError} when the write fails; they stay pending.
   */
  flush(): void {
    if (this.#pending > 0) this.#write()
  }

  readonly #flushLater = (): void => {
    this.#timer = null
    try {
      this.flush()
    } catch {
      // Still pending: the next append, flush, sync or close tries again.
    }
  }

  /** Writes the pending records of a hint, whose failure loses only hints. */
  #flushQuietly(): void {
    try {
      this.flush()
    } catch {
      // A hint not written: readers seek from an earlier record, recovery rebuilds it.
      if (this.#deferMs === 0) this.#pending = 0
    }
  }

  /**
   * Makes the records appended so far durable (a write of those pending, then one fdatasync
   * when any were appended).
   */
  sync(): Promise<void> {
    if (this.#deferMs > 0) {
      try {
        this.flush()
      } catch (error) {
        return Promise.reject(error)
      }
    } else {
      this.#flushQuietly()
    }
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

  /** Closes the file once the syncs in flight are done (writing what is pending first). */
  async close(): Promise<void> {
    this.#flushQuietly()
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#flushing !== null) clearImmediate(this.#flushing)
    this.#flushing = null
    await this.#syncing
    closeSync(this.#fd)
  }
}
