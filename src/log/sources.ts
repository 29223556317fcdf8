/**
 * Where a {@link LogReader} and {@link rewind} get their bytes: random access by absolute file
 * offset. {@link MemorySource} hands out views of bytes in memory, {@link AppendOnlyFileSource}
 * views of an AppendOnlyFile's mapping; {@link FileSource} reads a plain file in large chunks
 * (1 MiB by default), never one record at a time.
 * @module
 */
import { fstatSync, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { FileReader } from '../aof/reader.ts'
import { checkBytes, descriptorOf, invalidArgument, optionsOf } from '../arguments.ts'
import { fromSystemError } from '../errors.ts'
import { BLOCK_SIZE } from './format.ts'

/** The interface the record log reads through. */
export interface LogSource {
  /** Absolute offset just past the last readable byte. */
  readonly size: number
  /**
   * True when views returned by {@link LogSource.read} stay valid and unchanged for as long as
   * the caller keeps them (memory, a mapping). The reader then returns entries as views with no
   * copy. False when the source reuses its buffer (a file), and the reader copies.
   */
  readonly stable: boolean
  /**
   * For a source that is not {@link LogSource.stable}: a count that changes whenever views it
   * returned before may have changed (it refilled its buffer). A reader holding a view across
   * its calls takes it again only when this changed; without it, on every call. While it does
   * not change, those views' bytes must not either: a reader checks a block's records against
   * one copy of it (a source over memory that others change, such as a mapping, must be
   * `stable`, whose views a reader checks where they lie).
   */
  readonly generation?: number | undefined
  /**
   * True when the bytes of a view {@link LogSource.read} returned never change, not even when
   * the file is cut or replaced meanwhile: the source's own copies, never refilled. A reader
   * then checks a block's records against one copy of the block it makes. Default: false (a
   * mapping shows a cut file's bytes as zeros, and a caller's memory is the caller's).
   */
  readonly immutable?: boolean | undefined
  /**
   * The bytes at absolute offsets `[offset, min(offset + length, size))`; empty at or past the
   * end. `length` is at most 32768. The view is valid until the next call unless
   * {@link LogSource.stable}.
   */
  read(offset: number, length: number): Uint8Array
}

/**
 * A {@link LogSource} over bytes in memory. Entries read from it that sit in a single record
 * are views of these bytes: keep the bytes unchanged while the entries are in use.
 */
export class MemorySource implements LogSource {
  /** @inheritDoc LogSource.stable */
  readonly stable: boolean = true
  readonly #bytes: Uint8Array
  readonly #base: number

  /**
   * @param bytes - The log's bytes.
   * @param baseOffset - The absolute file offset of `bytes[0]` (default 0), so a window of a
   *   larger file keeps its block alignment.
   */
  constructor(bytes: Uint8Array, baseOffset = 0) {
    checkBytes(bytes, 'bytes')
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
      throw invalidArgument(`baseOffset must be a non-negative integer, got ${String(baseOffset)}`)
    }
    this.#bytes = bytes
    this.#base = baseOffset
  }

  /** @inheritDoc LogSource.size */
  get size(): number {
    return this.#base + this.#bytes.length
  }

  /** @inheritDoc LogSource.read */
  read(offset: number, length: number): Uint8Array {
    const start = Math.max(0, offset - this.#base)
    return this.#bytes.subarray(start, Math.min(start + length, this.#bytes.length))
  }
}

/** Options for {@link FileSource}. */
export interface FileSourceOptions {
  /** Bytes read per system call, a multiple of 32768. Default: 1 MiB. */
  chunkSize?: number
  /** Absolute offset just past the last byte to read. Default: the file's size when opened. */
  size?: number
  /** Path, for error messages only. */
  path?: string
}

/**
 * A {@link LogSource} over a plain file, through a file descriptor or a `fs/promises`
 * FileHandle (read synchronously through its `fd`). Reads go through one reused chunk buffer,
 * forward or backward (for {@link rewind}). The source never closes the file.
 */
export class FileSource implements LogSource {
  /** @inheritDoc LogSource.stable */
  readonly stable: boolean = false
  /** @inheritDoc LogSource.size */
  readonly size: number
  readonly #fd: number
  readonly #path: string | undefined
  readonly #chunk: Uint8Array
  #chunkOffset = 0
  #chunkLength = 0
  #generation = 0

  /**
   * @param file - An open file descriptor or FileHandle.
   * @param options - Chunk size, readable size, path for messages.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT on a bad chunk size; system codes
   *   from fstat.
   */
  constructor(file: number | FileHandle, given?: FileSourceOptions) {
    const options = optionsOf(given)
    this.#fd = descriptorOf(file)
    this.#path = options.path
    const chunkSize = options.chunkSize ?? 1 << 20
    if (!Number.isSafeInteger(chunkSize) || chunkSize < BLOCK_SIZE || chunkSize % BLOCK_SIZE !== 0) {
      throw invalidArgument(`chunkSize must be a multiple of 32768, got ${String(chunkSize)}`)
    }
    this.#chunk = new Uint8Array(chunkSize)
    let size = options.size
    if (size === undefined) {
      try {
        size = fstatSync(this.#fd).size
      } catch (error) {
        throw fromSystemError(error, this.#path, 'stat')
      }
    }
    this.size = size
  }

  /**
   * @inheritDoc LogSource.read
   * @throws {@link AofkitError} ERR_AOF_IO (and the other system codes) if the read fails.
   */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.size)
    if (end <= offset) return this.#chunk.subarray(0, 0)
    if (offset < this.#chunkOffset || end > this.#chunkOffset + this.#chunkLength) {
      // Forward reads fill the chunk from `offset` on; a read before the current chunk (a
      // backward walk) fills it so that it ends at `end`, ready for the blocks before.
      const start = offset < this.#chunkOffset ? Math.max(0, end - this.#chunk.length) : offset
      this.#fill(start)
    }
    const at = offset - this.#chunkOffset
    return this.#chunk.subarray(at, Math.min(at + end - offset, this.#chunkLength))
  }

  /** @inheritDoc LogSource.generation */
  get generation(): number {
    return this.#generation
  }

  #fill(start: number): void {
    this.#generation++
    const want = Math.min(this.#chunk.length, this.size - start)
    let got = 0
    try {
      while (got < want) {
        const n = readSync(this.#fd, this.#chunk, got, want - got, start + got)
        if (n === 0) break // The file shrank under us: what is there is all there is.
        got += n
      }
    } catch (error) {
      this.#chunkLength = 0
      throw fromSystemError(error, this.#path, 'read')
    }
    this.#chunkOffset = start
    this.#chunkLength = got
  }
}

/**
 * A {@link LogSource} over an {@link AppendOnlyFile}'s data, read straight from its mapping.
 * Its size follows the file's as the writer appends (in the same process). Entries read from
 * it that sit in a single record are views of the mapping: valid until the file is closed.
 */
export class AppendOnlyFileSource implements LogSource {
  /** @inheritDoc LogSource.stable */
  readonly stable: boolean = true
  readonly #file: AppendOnlyFile

  /** @param file - An open AppendOnlyFile holding a log. */
  constructor(file: AppendOnlyFile) {
    if (!(file instanceof AppendOnlyFile)) throw invalidArgument(`file must be an AppendOnlyFile, got ${String(file)}`)
    this.#file = file
  }

  /** The file's data size now. */
  get size(): number {
    return this.#file.size
  }

  /**
   * @inheritDoc LogSource.read
   * @throws {@link AofkitError} ERR_AOF_CLOSED once the file is closed.
   */
  read(offset: number, length: number): Uint8Array {
    const size = this.#file.size
    const start = Math.min(offset, size)
    return this.#file.contents(start, Math.min(start + length, size))
  }
}

const READER_CHUNK_SIZE = 1 << 20

/**
 * A {@link LogSource} over a {@link FileReader}: the committed data of an AppendOnlyFile whose
 * writer may live in another thread or process. Its size follows the writer's committed size;
 * reads go through `pread` in chunks of up to 1 MiB and never past the committed size.
 */
export class FileReaderSource implements LogSource {
  /** @inheritDoc LogSource.stable */
  readonly stable: boolean = false
  readonly #reader: FileReader
  // One reused buffer: entries read from this source are copied out by the reader.
  readonly #buffer = new Uint8Array(READER_CHUNK_SIZE)
  #chunkOffset = 0
  #chunkLength = 0
  #generation = 0

  /** @param reader - An open reader of a file holding a log. */
  constructor(reader: FileReader) {
    if (!(reader instanceof FileReader)) throw invalidArgument(`reader must be a FileReader, got ${String(reader)}`)
    this.#reader = reader
  }

  /** The committed size now. */
  get size(): number {
    return this.#reader.size
  }

  /** @inheritDoc LogSource.generation */
  get generation(): number {
    return this.#generation
  }

  /**
   * @inheritDoc LogSource.read
   * @throws {@link AofkitError} ERR_AOF_CLOSED once the reader is closed, ERR_AOF_REPLACED if
   *   the file was truncated under it.
   */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.#reader.size)
    if (end <= offset) return this.#buffer.subarray(0, 0)
    if (offset < this.#chunkOffset || end > this.#chunkOffset + this.#chunkLength) {
      this.#generation++
      this.#chunkLength = 0
      this.#chunkLength = this.#reader.readInto(this.#buffer, offset)
      this.#chunkOffset = offset
    }
    const at = offset - this.#chunkOffset
    return this.#buffer.subarray(at, at + end - offset)
  }
}

