/**
 * Restore: the latest state of a state log and the updates of its epoch, the way the
 * reference `stateio.Restore` finds them, except that it never reads at or past `limit` (see
 * docs/FORMAT.md, "The state log", for every deviation).
 * @module
 */
import { closeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, isAofkitError } from '../errors.ts'
import { openRegularFile } from '../io/regular-file.ts'
import { encodedSize, readU64 } from '../log/format.ts'
import { LogReader } from '../log/log-reader.ts'
import { rewind } from '../log/rewind.ts'
import { AppendOnlyFileSource, FileSource, MemorySource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { ENTRY_HEADER_SIZE, EntryType, decodeStateEntry } from './entry.ts'

/**
 * Where a state log is read from: its bytes, a path (opened read-only, closed when the updates
 * end or on {@link UpdateReader.close}), an open file descriptor or `fs/promises` FileHandle
 * (never closed by us), an {@link AppendOnlyFile}, or any record-log {@link LogSource}.
 */
export type RestoreSource = Uint8Array | string | number | FileHandle | AppendOnlyFile | LogSource

/** What {@link restore} returns. */
export interface Restored {
  /**
   * The latest snapshot's bytes, or `null` when the epoch has no snapshot (an empty snapshot
   * is an empty array, not `null`). A view of the source's bytes for in-memory sources and
   * AppendOnlyFiles (valid while they are), else a copy.
   */
  state: Uint8Array | null
  /** The epoch: the file offset of the latest snapshot, 0 when there is none. */
  epoch: number
  /** The epoch's updates, in order. */
  updates: UpdateReader
}

/**
 * A {@link LogSource} that ends at `limit`: nothing at or past it is ever read.
 * @internal
 */
class LimitedSource implements LogSource {
  /** @inheritDoc LogSource.size */
  readonly size: number
  /** @inheritDoc LogSource.stable */
  readonly stable: boolean
  readonly #inner: LogSource

  /**
   * @param inner - The whole source.
   * @param limit - The offset to stop before.
   */
  constructor(inner: LogSource, limit: number) {
    this.#inner = inner
    this.size = Math.min(inner.size, limit)
    this.stable = inner.stable
  }

  /** @inheritDoc LogSource.generation */
  get generation(): number | undefined {
    return this.#inner.generation
  }

  /** @inheritDoc LogSource.read */
  read(offset: number, length: number): Uint8Array {
    if (offset >= this.size) return this.#inner.read(this.size, 0)
    return this.#inner.read(offset, Math.min(length, this.size - offset))
  }
}

/**
 * Reads the updates of one epoch: `read()` returns the next update's bytes, `null` at the end
 * of the epoch (the end of the log, or the next snapshot). Iterable.
 *
 * Errors, where the reference returns them: ERR_STATE_CORRUPT for a malformed entry or an
 * update of another epoch, and the record log's ERR_LOG_CORRUPTED / ERR_LOG_UNEXPECTED_EOF.
 * After ERR_STATE_CORRUPT or ERR_LOG_CORRUPTED, `read()` may be called again to go on with the
 * next entry (the record log resyncs); the end and ERR_LOG_UNEXPECTED_EOF are final.
 */
export class UpdateReader implements Iterable<Uint8Array> {
  readonly #reader: LogReader | null
  readonly #epoch: number
  #onEnd: (() => void) | null
  #ended: boolean
  readonly #startOffset: number
  // The last entry read: its offset and size (-1: a snapshot, which ends the epoch).
  #lastOffset = -1
  #lastSize = 0

  /**
   * @internal Created by {@link restore}.
   * @param reader - The record reader positioned at the first update, or `null` for none.
   * @param epoch - The epoch every update must carry.
   * @param startOffset - Where `reader` starts.
   * @param onEnd - Called once when the reader ends or is closed (to close a file).
   */
  constructor(reader: LogReader | null, epoch: number, startOffset: number, onEnd: (() => void) | null = null) {
    this.#reader = reader
    this.#epoch = epoch
    this.#startOffset = startOffset
    this.#onEnd = onEnd
    this.#ended = reader === null
    if (this.#ended) this.close()
  }

  /** The epoch whose updates this reader returns. */
  get epoch(): number {
    return this.#epoch
  }

  /**
   * The file offset just past the last entry read successfully (the start offset before any):
   * where a writer would append after a clean log.
   */
  get endOffset(): number {
    if (this.#lastOffset < 0) return this.#startOffset
    if (this.#lastSize < 0) return this.#lastOffset
    return this.#lastOffset + encodedSize(this.#lastOffset, this.#lastSize)
  }

  /** The file offset of the last entry read (the start offset before any). */
  get entryOffset(): number {
    return this.#lastOffset < 0 ? this.#startOffset : this.#lastOffset
  }

  /**
   * Returns the next update of the epoch, or `null` at its end.
   * @returns The update's bytes (a view for in-memory sources, else a copy), or `null`.
   * @throws {@link AofkitError} ERR_STATE_CORRUPT for a malformed entry or a wrong epoch;
   *   ERR_LOG_CORRUPTED, ERR_LOG_UNEXPECTED_EOF and system codes from the record log.
   */
  read(): Uint8Array | null {
    if (this.#ended || this.#reader === null) return null
    let entry: Uint8Array | null
    try {
      entry = this.#reader.read()
    } catch (error) {
      if (isAofkitError(error, ErrorCode.LogUnexpectedEof)) this.#end()
      throw error
    }
    if (entry === null) return this.#end()
    const entryOffset = this.#reader.entryOffset
    this.#lastOffset = entryOffset
    this.#lastSize = entry.length
    // The checks of decodeStateEntry, inline: this is the restore loop.
    const type = entry.length < ENTRY_HEADER_SIZE ? 3 : (entry[0] as number)
    if (type >= 3) throw corrupt(entryOffset)
    if (type === EntryType.Snapshot) {
      // The next epoch starts here: its snapshot is not one of ours.
      this.#lastSize = -1
      return this.#end()
    }
    const epoch = readU64(entry, 1)
    if (epoch !== this.#epoch) {
      throw new AofkitError(
        ErrorCode.StateCorrupt,
        `corrupt state entry at offset ${entryOffset}: epoch ${epoch}, expected ${this.#epoch}`,
      )
    }
    return entry.subarray(ENTRY_HEADER_SIZE)
  }

  /** Iterates over the remaining updates; errors propagate out of the loop. */
  [Symbol.iterator](): Iterator<Uint8Array> {
    return {
      next: (): IteratorResult<Uint8Array> => {
        const update = this.read()
        return update === null ? { done: true, value: undefined } : { done: false, value: update }
      },
    }
  }

  /** Ends the reader early and releases its file, if {@link restore} opened one. Idempotent. */
  close(): void {
    this.#ended = true
    const onEnd = this.#onEnd
    this.#onEnd = null
    onEnd?.()
  }

  #end(): null {
    this.close()
    return null
  }
}

/** Details of a restore that writers need (where the updates start). @internal */
export interface RestoredAt extends Restored {
  /** Offset of the first update (just past the snapshot, or the epoch when there is none). */
  updatesOffset: number
}

function isLogSource(value: object): value is LogSource {
  return typeof (value as LogSource).read === 'function' && typeof (value as LogSource).size === 'number'
}

/**
 * Turns a {@link RestoreSource} into a record-log source, and a function that releases what
 * was opened here.
 * @internal
 */
export function openSource(source: RestoreSource): { source: LogSource; release: (() => void) | null } {
  if (source instanceof Uint8Array) return { source: new MemorySource(source), release: null }
  if (source instanceof AppendOnlyFile) return { source: new AppendOnlyFileSource(source), release: null }
  if (typeof source === 'string') {
    // A regular file only, opened without blocking: a FIFO at the path is refused, not waited on.
    const fd = openRegularFile(source)
    try {
      return { source: new FileSource(fd, { path: source }), release: () => closeSync(fd) }
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }
  if (typeof source === 'number') return { source: new FileSource(source), release: null }
  if (typeof source === 'object' && source !== null) {
    if (isLogSource(source)) return { source, release: null }
    if (typeof source.fd === 'number') return { source: new FileSource(source), release: null }
  }
  throw invalidArgument('source must be a Uint8Array, a path, a file descriptor, a FileHandle, an AppendOnlyFile or a LogSource')
}

function readOne(source: LogSource, offset: number): { reader: LogReader; entry: Uint8Array } {
  const reader = new LogReader(source, { offset })
  let entry: Uint8Array | null
  try {
    entry = reader.read()
  } catch (error) {
    // The offset came from the file: one where no entry starts is damage, not a bad argument.
    if (isAofkitError(error, ErrorCode.InvalidArgument)) throw new AofkitError(ErrorCode.LogCorrupted, `corrupted log: ${error.message}`)
    throw error
  }
  if (entry === null) {
    throw new AofkitError(ErrorCode.LogCorrupted, `corrupted log: no entry at offset ${offset}`)
  }
  return { reader, entry }
}

function corrupt(offset: number): AofkitError {
  return new AofkitError(ErrorCode.StateCorrupt, `corrupt state entry at offset ${offset}`)
}

/**
 * The reference's `Restore` on a record-log source, never reading at or past `limit`.
 * @internal
 */
export function restoreFromLog(whole: LogSource, limit: number, onEnd: (() => void) | null = null): RestoredAt {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw invalidArgument(`limit must be a non-negative safe integer, got ${String(limit)}`)
  }
  const end = Math.min(limit, whole.size)
  if (end === 0) return { state: null, epoch: 0, updates: new UpdateReader(null, 0, 0, onEnd), updatesOffset: 0 }
  const source = end < whole.size ? new LimitedSource(whole, end) : whole
  const last = rewind(source, end)
  if (last === null) {
    throw new AofkitError(ErrorCode.LogCorrupted, `corrupted log: no record found before offset ${end}`)
  }
  const found = readOne(source, last)
  const lastEntry = decodeStateEntry(found.entry)
  if (lastEntry === null) throw corrupt(last)
  if (lastEntry.type === EntryType.Snapshot) {
    const updatesOffset = last + encodedSize(last, found.entry.length)
    return {
      state: lastEntry.payload,
      epoch: last,
      updates: new UpdateReader(found.reader, last, updatesOffset, onEnd),
      updatesOffset,
    }
  }
  const epoch = lastEntry.epoch
  if (epoch >= source.size) {
    // The reference would read past the limit here; an epoch is never after its updates.
    throw new AofkitError(ErrorCode.StateCorrupt, `corrupt state entry at offset ${last}: epoch ${epoch} lies past it`)
  }
  const opening = readOne(source, epoch)
  const openingEntry = decodeStateEntry(opening.entry)
  if (openingEntry === null) throw corrupt(epoch)
  if (openingEntry.type === EntryType.Snapshot) {
    const updatesOffset = epoch + encodedSize(epoch, opening.entry.length)
    return {
      state: openingEntry.payload,
      epoch,
      updates: new UpdateReader(opening.reader, epoch, updatesOffset, onEnd),
      updatesOffset,
    }
  }
  // No snapshot opens this epoch: its first entry is read again as the first update.
  return {
    state: null,
    epoch,
    updates: new UpdateReader(new LogReader(source, { offset: epoch }), epoch, epoch, onEnd),
    updatesOffset: epoch,
  }
}

/**
 * Restores the latest state of a state log: the last epoch's snapshot and a reader of that
 * epoch's updates, as the reference's `stateio.Restore(r, limit)` does.
 *
 * Unlike the reference it reads only the bytes before `limit`: `restore(file, n)` behaves
 * exactly as `restore(file truncated to n)`. An empty log (or `limit` 0) gives `state: null`,
 * epoch 0 and no updates.
 *
 * Synchronous. When `source` is a path, the file stays open until the updates reader ends or
 * is closed; call `updates.close()` if you stop reading early.
 * @param source - The state log (see {@link RestoreSource}).
 * @param limit - Offset to read before. Default: the size of the source.
 * @returns The state, the epoch and the updates reader.
 * @throws {@link AofkitError} ERR_STATE_CORRUPT when the last entry, or the entry its epoch
 *   points at, is malformed; ERR_LOG_CORRUPTED when a needed record is damaged, or no record
 *   at all lies before `limit` in a non-empty log (the reference's `EOF`);
 *   ERR_LOG_UNEXPECTED_EOF when the log ends inside the needed entry; ERR_AOF_NOT_FOUND and
 *   other system codes when a path cannot be read; ERR_AOF_INVALID_ARGUMENT for a bad argument.
 */
export function restore(source: RestoreSource, limit?: number): Restored {
  const opened = openSource(source)
  try {
    const restored = restoreFromLog(opened.source, limit ?? opened.source.size, opened.release)
    return { state: restored.state, epoch: restored.epoch, updates: restored.updates }
  } catch (error) {
    opened.release?.()
    throw error
  }
}
