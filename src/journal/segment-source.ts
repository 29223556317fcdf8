/**
 * What a segment's record-log reader reads through: the segment file's committed bytes, read
 * with pread in chunks of 256 KiB into buffers that are never reused, so the source is stable
 * and the entries the reader returns are views of a chunk, with no copy per entry. A chunk
 * the writer has not filled yet is read further in place as more is committed, past the bytes
 * already handed out, which never change.
 * @module
 */
import type { FileReader } from '../aof/reader.ts'
import type { LogSource } from '../log/sources.ts'

/** Bytes per chunk: as the record log reader's slab for the copies it makes otherwise. */
const CHUNK_SIZE = 256 * 1024

const EMPTY = new Uint8Array(0)

/** A stable {@link LogSource} over a segment's reader. */
export class SegmentSource implements LogSource {
  /** Views it returns stay valid and unchanged: a chunk is never refilled. */
  readonly stable: boolean = true
  /** Its chunks are its own copies: their bytes never change, whatever becomes of the file. */
  readonly immutable: boolean = true
  readonly #reader: FileReader
  #chunk: Uint8Array = EMPTY
  /** The file offset of the chunk's first byte. */
  #chunkOffset = 0
  /** Bytes of the chunk read from the file so far. */
  #filled = 0

  constructor(reader: FileReader) {
    this.#reader = reader
  }

  /** The committed size now. */
  get size(): number {
    return this.#reader.size
  }

  /**
   * @inheritDoc LogSource.read
   * @throws {@link AofkitError} ERR_AOF_CLOSED once the reader is closed, ERR_AOF_REPLACED if
   *   the file was cut under it.
   */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(offset + length, this.#reader.size)
    if (end <= offset) return EMPTY
    if (offset < this.#chunkOffset || end > this.#chunkOffset + this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(CHUNK_SIZE, end - offset))
      this.#chunkOffset = offset
      this.#filled = 0
    }
    if (end - this.#chunkOffset > this.#filled) {
      // As much as is committed and fits: at least up to `end`, which was committed already.
      this.#filled += this.#reader.readInto(this.#chunk.subarray(this.#filled), this.#chunkOffset + this.#filled)
    }
    // Never past what was read: bytes handed out are never filled later.
    return this.#chunk.subarray(offset - this.#chunkOffset, Math.min(end - this.#chunkOffset, this.#filled))
  }
}
