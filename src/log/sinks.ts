/**
 * Where a {@link LogWriter} puts its bytes. A sink appends; it never seeks. The writer encodes
 * straight into memory the sink hands it, so a sink backed by a mapping (the AppendOnlyFile)
 * gets records written in place with no copy.
 *
 * Sinks here: {@link MemorySink} (a growable buffer), {@link FileSink} (a plain file, through a
 * file descriptor or a `fs/promises` FileHandle, with a user-space buffer) and
 * {@link AppendOnlyFileSink} (an {@link AppendOnlyFile}, records encoded straight into its
 * mapping).
 * @module
 */
import { constants } from 'node:buffer'
import { fstatSync, writeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { checkBytes, descriptorOf, invalidArgument, optionsOf } from '../arguments.ts'
import { fromSystemError } from '../errors.ts'
import { fdatasyncAsync } from '../io/durable.ts'
import { BLOCK_SIZE } from './format.ts'

/**
 * Fills `target[at, at + size)` with the bytes being appended, where `size` is the number given
 * to {@link LogSink.append}.
 */
export type SinkFill = (target: Uint8Array, at: number) => void

/** The interface a {@link LogWriter} writes through. */
export interface LogSink {
  /**
   * Bytes the sink holds: the file offset at which the next append lands. A writer created
   * without an explicit offset starts here.
   */
  readonly size: number
  /**
   * The largest `size` the writer passes to one {@link LogSink.append} call, at least
   * 2 * 32768. Entries that encode to more are appended in several pieces of whole records.
   * `Infinity` means every entry arrives in one call (needed where an entry must land whole).
   */
  readonly appendSizeMax: number
  /**
   * Appends exactly `size` bytes, which `fill` writes into `target[at, at + size)` (memory the
   * sink owns, valid only during the call). If it throws, nothing of this call is appended.
   */
  append(size: number, fill: SinkFill): void
  /** Pushes buffered bytes to the operating system (no durability implied). */
  flush(): void
}

const MAX_LENGTH = constants.MAX_LENGTH

/** Options for {@link MemorySink}. */
export interface MemorySinkOptions {
  /** Bytes the sink starts with (copied), for example a log prefix. Default: none. */
  initial?: Uint8Array
  /** Initial capacity in bytes, an integer from 0 to `buffer.constants.MAX_LENGTH`. Default: 64 KiB. */
  capacity?: number
}

/** A {@link LogSink} that keeps the log in a growable in-memory buffer. */
export class MemorySink implements LogSink {
  /** @inheritDoc LogSink.appendSizeMax */
  readonly appendSizeMax: number = Infinity
  #buffer: Uint8Array
  #size = 0

  /**
   * @param options - Initial contents and capacity.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT when `initial` is not a Uint8Array or
   *   `capacity` is not an integer from 0 to `buffer.constants.MAX_LENGTH` (NaN, a string, an
   *   object…).
   */
  constructor(given?: MemorySinkOptions) {
    const options = optionsOf(given)
    const initial = options.initial
    if (initial !== undefined) checkBytes(initial, 'initial')
    const requested = options.capacity ?? 65536
    if (!Number.isSafeInteger(requested) || requested < 0 || requested > MAX_LENGTH) {
      throw invalidArgument(`capacity must be an integer from 0 to ${MAX_LENGTH}, got ${String(requested)}`)
    }
    const capacity = Math.max(requested, initial?.length ?? 0, 16)
    this.#buffer = new Uint8Array(capacity)
    if (initial !== undefined) {
      this.#buffer.set(initial)
      this.#size = initial.length
    }
  }

  /** @inheritDoc LogSink.size */
  get size(): number {
    return this.#size
  }

  /** @inheritDoc LogSink.append */
  append(size: number, fill: SinkFill): void {
    const end = this.#size + size
    if (end > this.#buffer.length) this.#grow(end)
    fill(this.#buffer, this.#size)
    this.#size = end
  }

  /** Nothing to do: the bytes are already in memory. */
  flush(): void {}

  /**
   * The log so far, as a view of the sink's buffer (no copy). The view is valid until the next
   * append, which may move the buffer; copy it (`.slice()`) to keep it.
   */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#size)
  }

  #grow(needed: number): void {
    let capacity = this.#buffer.length * 2
    while (capacity < needed) capacity *= 2
    const buffer = new Uint8Array(capacity)
    buffer.set(this.#buffer.subarray(0, this.#size))
    this.#buffer = buffer
  }
}

/** Options for {@link FileSink}. */
export interface FileSinkOptions {
  /** Size of the user-space write buffer in bytes, at least 65536. Default: 65536. */
  bufferSize?: number
  /**
   * File offset of the first byte to write. Default: the file's current size, so the log is
   * appended to whatever the file holds.
   */
  position?: number
  /** Path, for error messages only. */
  path?: string
}

/**
 * A {@link LogSink} that writes to a plain file through a user-space buffer, with positional
 * writes (`pwrite`) at the file's end. Bytes reach the operating system when the buffer fills,
 * on {@link FileSink.flush}, and on {@link FileSink.sync}; only `sync()` makes them durable.
 * The sink never closes the file: the caller owns the descriptor or FileHandle.
 */
export class FileSink implements LogSink {
  /** @inheritDoc LogSink.appendSizeMax */
  readonly appendSizeMax: number
  readonly #fd: number
  readonly #path: string | undefined
  readonly #buffer: Uint8Array
  #used = 0
  #filePosition: number

  /**
   * @param file - An open file descriptor, or a `fs/promises` FileHandle (its `fd` is used; the
   *   sink writes synchronously, so buffered appends never wait on a Promise).
   * @param options - Buffer size, start position, path for messages.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT on a bad buffer size or position.
   */
  constructor(file: number | FileHandle, given?: FileSinkOptions) {
    const options = optionsOf(given)
    this.#fd = descriptorOf(file)
    this.#path = options.path
    const bufferSize = options.bufferSize ?? 65536
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 2 * BLOCK_SIZE) {
      throw invalidArgument(`bufferSize must be an integer >= 65536, got ${String(bufferSize)}`)
    }
    this.#buffer = new Uint8Array(bufferSize)
    this.appendSizeMax = bufferSize
    let position = options.position
    if (position === undefined) {
      try {
        position = fstatSync(this.#fd).size
      } catch (error) {
        throw fromSystemError(error, this.#path, 'stat')
      }
    }
    if (!Number.isSafeInteger(position) || position < 0) {
      throw invalidArgument(`position must be a non-negative integer, got ${String(position)}`)
    }
    this.#filePosition = position
  }

  /** @inheritDoc LogSink.size */
  get size(): number {
    return this.#filePosition + this.#used
  }

  /** @inheritDoc LogSink.append */
  append(size: number, fill: SinkFill): void {
    if (size > this.#buffer.length - this.#used) this.flush()
    fill(this.#buffer, this.#used)
    this.#used += size
  }

  /**
   * Writes the buffered bytes to the file (to the page cache; not durable by itself).
   * @throws {@link AofkitError} ERR_AOF_NO_SPACE, ERR_AOF_IO and the other system codes.
   */
  flush(): void {
    let done = 0
    try {
      while (done < this.#used) {
        done += writeSync(this.#fd, this.#buffer, done, this.#used - done, this.#filePosition + done)
      }
    } catch (error) {
      // Keep what was not written, so a later flush can retry it.
      this.#buffer.copyWithin(0, done, this.#used)
      this.#used -= done
      this.#filePosition += done
      throw fromSystemError(error, this.#path, 'write')
    }
    this.#filePosition += done
    this.#used = 0
  }

  /**
   * Flushes, then waits for `fdatasync` (on the libuv thread pool, so the event loop is free).
   * When the Promise resolves, every byte appended before the call survives a power loss.
   * @throws {@link AofkitError} as {@link FileSink.flush}, or ERR_AOF_IO from fdatasync.
   */
  async sync(): Promise<void> {
    this.flush()
    await fdatasyncAsync(this.#fd, this.#path)
  }
}

/**
 * A {@link LogSink} over an {@link AppendOnlyFile}: each entry is one `append()` of the file,
 * whose records are encoded straight into the file's mapping (zero copy). An entry therefore
 * lands whole or not at all, and a writer killed mid-append loses at most that entry.
 *
 * Log offsets are file offsets: create the file for the log alone, and do not call the file's
 * `checkpoint()` or `write()` between entries, which would put non-log bytes into the blocks.
 * Durability is the file's: call `file.sync()`.
 */
export class AppendOnlyFileSink implements LogSink {
  /** Every entry arrives in one call (the file's append is the unit of atomicity). */
  readonly appendSizeMax: number = Infinity
  readonly #file: AppendOnlyFile

  /** @param file - An open, writable AppendOnlyFile that holds only this log. */
  constructor(file: AppendOnlyFile) {
    if (!(file instanceof AppendOnlyFile)) throw invalidArgument(`file must be an AppendOnlyFile, got ${String(file)}`)
    this.#file = file
  }

  /** The file's data size. */
  get size(): number {
    return this.#file.size
  }

  /**
   * @inheritDoc LogSink.append
   * @throws {@link AofkitError} what `AppendOnlyFile.append` throws: ERR_AOF_FULL past the
   *   geometry's `sizeUpper`, ERR_AOF_NO_SPACE on a full disk, ERR_AOF_CLOSED… Nothing is
   *   written then.
   */
  append(size: number, fill: SinkFill): void {
    this.#file.appendFill(size, fill)
  }

  /** Nothing to do: appended bytes are already in the mapping, visible to readers. */
  flush(): void {}
}
