/**
 * The record log writer: appends entries to a {@link LogSink} in the logio format, byte for
 * byte what the reference `logio.Writer` writes for the same entries and start offset.
 * @module
 */
import { checkBytes, checkObject, invalidArgument, invalidBytes, optionsOf, quickLength } from '../arguments.ts'
import {
  BLOCK_SIZE,
  aligned,
  blockOffset,
  encodeEntry,
  encodeRecord,
  encodedSize,
  paddingBefore,
  recordCount,
} from './format.ts'
import type { LogSink } from './sinks.ts'

/** Options for {@link LogWriter}. */
export interface LogWriterOptions {
  /**
   * Absolute file offset of the sink's next byte, which decides where block boundaries fall.
   * Default: `sink.size` (right for a file or a buffer holding the whole log).
   */
  offset?: number
}

/**
 * Appends entries to a log. Each entry becomes one FULL record, or FIRST, MIDDLE… and LAST
 * records when it does not fit in the rest of its block; entries may be empty or hundreds of
 * MiB.
 *
 * Durability is the sink's business: the writer hands bytes to the sink and nothing more (see
 * {@link FileSink.sync}). A writer is not safe for concurrent use from several places at once,
 * and at most one writer may append to a log.
 */
export class LogWriter {
  readonly #sink: LogSink
  readonly #piecesFromSize: number
  #position: number
  // The entry being encoded, read by #fill (created once, so appends allocate no closure).
  #entry: Uint8Array = new Uint8Array(0)
  readonly #fill: (target: Uint8Array, at: number) => void

  /**
   * @param sink - Where the bytes go.
   * @param options - The absolute offset of the sink's next byte.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT if `offset` is not a non-negative safe
   *   integer or the sink's `appendSizeMax` is below 65536.
   */
  constructor(sink: LogSink, options?: LogWriterOptions) {
    checkObject(sink, 'sink must be a LogSink')
    const offset = optionsOf(options).offset ?? sink.size
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw invalidArgument(`offset must be a non-negative safe integer, got ${String(offset)}`)
    }
    if (!(sink.appendSizeMax >= 2 * BLOCK_SIZE)) {
      throw invalidArgument(`sink.appendSizeMax must be at least ${2 * BLOCK_SIZE}`)
    }
    this.#sink = sink
    this.#piecesFromSize = sink.appendSizeMax
    this.#position = offset
    this.#fill = (target, at) => {
      try {
        encodeEntry(target, at, this.#position, this.#entry)
      } catch (error) {
        throw invalidBytes(this.#entry, 'entry', error)
      }
    }
  }

  /**
   * Appends one entry (zero copy into the sink's memory when the sink allows it). Like the
   * reference, an empty entry writes no record but may still write block padding.
   * @param entry - The entry's bytes; not kept after the call.
   * @returns The absolute offset of the entry's first record (for an empty entry, where it
   *   would have been). This is where a reader positioned by {@link rewind} finds the entry;
   *   it can differ from {@link LogWriter.tell} called before the append (see docs/FORMAT.md).
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT when `entry` is not a Uint8Array (a
   *   string, an array, any other object), before anything is written. Whatever the sink
   *   throws (for a file: ERR_AOF_NO_SPACE, ERR_AOF_IO…); bytes the sink accepted before the
   *   failure stay, and a reader reports a torn entry there as ERR_LOG_CORRUPTED and resyncs.
   */
  append(entry: Uint8Array): number {
    // Exactly (checkBytes) only when the quick check fails: what still gets through throws
    // copying, in #fill.
    if (quickLength(entry) <= 0) checkBytes(entry, 'entry')
    const position = this.#position
    const size = encodedSize(position, entry.length)
    const entryOffset = position + paddingBefore(position)
    if (size === 0) return entryOffset
    if (size <= this.#piecesFromSize) {
      this.#entry = entry
      try {
        this.#sink.append(size, this.#fill)
      } finally {
        this.#entry = EMPTY
      }
      this.#position = position + size
      return entryOffset
    }
    checkBytes(entry, 'entry') // exactly: the first pieces would stay if a later one threw
    this.#appendInPieces(entry, entryOffset)
    return entryOffset
  }

  /**
   * The reference's `Tell()`: the offset where the next entry starts, aligned past block-end
   * padding. As in the reference, when the writer sits 1 to 14 bytes past a block boundary
   * (only possible when it was created there) this returns that position although the next
   * entry will start at the following boundary.
   */
  tell(): number {
    return aligned(this.#position)
  }

  /** The absolute offset of the next byte the writer will write (padding not yet applied). */
  get position(): number {
    return this.#position
  }

  /**
   * Asks the sink to push buffered bytes to the operating system (see {@link LogSink.flush}).
   * @throws {@link AofkitError} whatever the sink's flush throws.
   */
  flush(): void {
    this.#sink.flush()
  }

  /**
   * Appends an entry that encodes to more than the sink takes at once: the padding and the
   * FIRST record, then groups of whole-block records, each group one sink append.
   */
  #appendInPieces(entry: Uint8Array, firstPosition: number): void {
    const count = recordCount(firstPosition, entry.length)
    const blocksPerPiece = Math.floor(this.#piecesFromSize / BLOCK_SIZE)
    const head = firstPosition - this.#position + BLOCK_SIZE - blockOffset(firstPosition)
    this.#sink.append(head, (target, at) => {
      encodeEntry(target, at, this.#position, EMPTY)
      encodeRecord(target, at + firstPosition - this.#position, firstPosition, entry, 0)
    })
    this.#position += head
    for (let recordFirst = 1; recordFirst < count; recordFirst += blocksPerPiece) {
      const recordEnd = Math.min(count, recordFirst + blocksPerPiece)
      const pieceSize =
        recordEnd === count
          ? encodedSize(firstPosition, entry.length) - (this.#position - firstPosition)
          : (recordEnd - recordFirst) * BLOCK_SIZE
      this.#sink.append(pieceSize, (target, at) => {
        let cursor = at
        for (let recordIndex = recordFirst; recordIndex < recordEnd; recordIndex++) {
          cursor += encodeRecord(target, cursor, firstPosition, entry, recordIndex)
        }
      })
      this.#position += pieceSize
    }
  }
}

const EMPTY = new Uint8Array(0)
