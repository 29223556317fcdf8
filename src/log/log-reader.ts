/**
 * The record log reader: returns the entries of a log in order, the way the reference
 * `logio.Reader` does (same entries, same errors, same resync after corruption), with the
 * safety deviations listed in docs/FORMAT.md: it checks the offsets of MIDDLE and LAST records,
 * and after the end it keeps returning the end.
 * @module
 */
import { checkObject, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { copyBytes } from '../io/copy-bytes.ts'
import { XXH64_STAGE_SIZE, xxh64Offer } from '../io/xxh64.ts'
import { BLOCK_SIZE, HEADER_SIZE, RecordType, aligned, blockOffset, parseRecord } from './format.ts'
import type { ParsedRecord } from './format.ts'
import type { LogSource } from './sources.ts'

/** Options for {@link LogReader}. */
export interface LogReaderOptions {
  /**
   * Absolute file offset to start reading at: 0 (the default), or where an entry starts or may
   * start: an {@link LogReader.entryOffset}, a {@link LogReader.position}, an offset returned
   * by `LogWriter.append`, `tell()` or `position`, or a `rewind` result. Where the writer pads
   * (the last 15 bytes of a block, or zeros from 1..14 bytes past a block boundary to the next
   * one) the reader starts at the next block boundary. An offset past the end of the source
   * (not live), or one that falls inside a record or on the continuation record of an entry,
   * is refused with ERR_AOF_INVALID_ARGUMENT.
   */
  offset?: number
  /**
   * Check that every MIDDLE and LAST record's offset points back at the entry's FIRST record,
   * and report ERR_LOG_CORRUPTED when it does not. Default: true. With false the reader
   * behaves exactly like the reference, which silently returns an entry stitched together from
   * records of different entries when blocks were lost or repeated; only for compatibility
   * testing. It also turns off the checks of the start offset: the reference reports a start
   * in the writer's padding, or inside a record, as a corrupt record.
   */
  verifyOffsets?: boolean
  /**
   * Follow a source that grows (a live file): reaching the end of its bytes is then not final,
   * and a later `read()` continues from there once more bytes have arrived. Only sound when
   * the source grows by whole entries, as an AppendOnlyFile written by a {@link LogWriter}
   * through an `AppendOnlyFileSink` does. Default: false (the end is final, as the reference).
   */
  live?: boolean
}

const EMPTY = new Uint8Array(0)
// Small entries copied out of an unstable source are carved from shared slabs, as Node's Buffer
// pool does: allocating one ArrayBuffer per entry costs more than reading it.
const SLAB_SIZE = 256 * 1024
const SLAB_ENTRY_MAX = 8192

/**
 * Reads the entries of a log in order: `read()` returns the next entry, `null` at the clean
 * end, and throws on a corrupt record or a log that ends inside an entry.
 *
 * After ERR_LOG_CORRUPTED, the next `read()` resyncs: it skips the rest of the block that held
 * the bad record, and any continuation records after it, up to the next FULL or FIRST record
 * (entries in between are lost, as with the reference). The clean end and
 * ERR_LOG_UNEXPECTED_EOF are final: every later `read()` returns `null` or throws the same
 * error again.
 *
 * Zero copy: when the source is stable (a {@link MemorySource}, a mapping), an entry that sits
 * in a single record is returned as a view of the source's bytes, valid as long as those bytes
 * are. Entries spanning several records, and every entry from a {@link FileSource}, are copies
 * owned by the caller; small ones (up to 8 KiB) are views into a shared 256 KiB slab that the
 * reader never writes again (as with Node's Buffer pool), so `entry.buffer` may hold other
 * entries too.
 *
 * The reader is iterable: `for (const entry of reader)` calls `read()` until `null`. An error
 * ends the loop by propagating out of it (the reference's `Read` returns it the same way);
 * catch it, and iterate again to continue after ERR_LOG_CORRUPTED.
 */
export class LogReader implements Iterable<Uint8Array> {
  readonly #source: LogSource
  readonly #verifyOffsets: boolean
  readonly #live: boolean
  // Absolute offset of the next byte to load, and the current block.
  #next: number
  #block: Uint8Array = EMPTY
  #blockStart: number
  /**
   * The source's blocks can be checked against one copy each (see LogSource.immutable): each
   * block is staged in XXH64's module when taken, and its records hashed there ({@link #take}).
   */
  readonly #stageable: boolean
  /** The source's generation when #block was taken (see LogSource.generation). */
  #generation: number | undefined = undefined
  #cursor = 0
  // A FIRST or FULL record found by resync, not returned yet.
  #pending = false
  #pendingType = 0
  #pendingLength = 0
  #pendingPosition = 0
  #needResync = false
  // Resync from the cursor rather than from the next block (after an out-of-place record).
  #resyncInBlock = false
  // Set once the log has ended: null for the clean end, else the error to throw again.
  #ended = false
  #endError: AofkitError | null = null
  #entryOffset = -1
  readonly #record: ParsedRecord = { type: 0, length: 0, offset: 0 }
  #slab: Uint8Array = EMPTY
  #slabUsed = 0
  // The start offset is still to be checked (skip the writer's padding there, and tell a wrong
  // offset from a damaged record) when the first record is read.
  #checkStart: boolean

  /**
   * @param source - Where the log's bytes come from.
   * @param options - Start offset and offset verification.
   * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT if `offset` is not a non-negative
   *   safe integer, or (not live) lies past the end of the source.
   */
  constructor(source: LogSource, given?: LogReaderOptions) {
    checkObject(source, 'source must be a LogSource')
    const options = optionsOf(given)
    const offset = options.offset ?? 0
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw invalidArgument(`offset must be a non-negative safe integer, got ${String(offset)}`)
    }
    this.#source = source
    // A mapping's bytes may turn to zeros (a file cut under the reader), and a caller's memory
    // may change: their records are checked where they are, each when it is read.
    this.#stageable = !source.stable || source.immutable === true
    this.#verifyOffsets = options.verifyOffsets ?? true
    this.#live = options.live ?? false
    if (this.#verifyOffsets && !this.#live && offset > source.size) {
      throw invalidArgument(`offset ${offset} lies past the end of the log (${source.size} bytes)`)
    }
    this.#next = offset
    this.#blockStart = offset
    this.#checkStart = this.#verifyOffsets && offset > 0
  }

  /**
   * Absolute file offset of the first record of the entry the last `read()` returned, or -1
   * before the first entry.
   */
  get entryOffset(): number {
    return this.#entryOffset
  }

  /**
   * Absolute file offset just past the bytes consumed so far: after an entry, where the next
   * one (or its block padding) begins. Always a valid `offset` to start another reader at.
   */
  get position(): number {
    return this.#pending ? this.#pendingPosition : this.#blockStart + this.#cursor
  }

  /**
   * Returns the next entry, or `null` at the clean end of the log.
   * @returns The entry (a view or a copy, see the class notes), or `null` at the end.
   * @throws {@link AofkitError} ERR_LOG_CORRUPTED when a record is damaged or out of place; call
   *   `read()` again to resync at the next block. ERR_LOG_UNEXPECTED_EOF when the log ends
   *   inside an entry (final). System error codes if a file read fails.
   */
  read(): Uint8Array | null {
    if (this.#ended) {
      if (this.#endError !== null) throw this.#endError
      return null
    }
    // A source that reuses its buffer may have been read by another reader since our last
    // call (recovery scans past a restore's update reader before handing it on): then take
    // the current block again.
    const source = this.#source
    if (!source.stable && this.#block.length !== 0 && (source.generation === undefined || source.generation !== this.#generation)) {
      this.#take(source.read(this.#blockStart, this.#block.length))
      this.#generation = source.generation
    }
    if (this.#needResync) {
      if (!this.#resync()) return this.#end(null)
      this.#needResync = false
    }
    if (this.#checkStart && this.#block.length === 0) this.#skipStartPadding()
    const record = this.#record
    let first = true
    // -1 until a FIRST record: continuation records then have nothing to point back at.
    let firstPosition = -1
    // Only an entry of several records needs it: none is made for a FULL record.
    let parts: Uint8Array[] | null = null
    for (;;) {
      if (!this.#pending && this.#cursor >= this.#block.length - HEADER_SIZE) {
        // Live, the block may have been loaded only up to the data's end then. Go on from the
        // cursor, past the 1..15 bytes the writer pads at a block's end: the next record
        // starts there, whether or not the block's rest was written since.
        if (this.#live) this.#next = aligned(this.#blockStart + this.#cursor)
        if (!this.#load()) {
          if (first) return this.#end(null)
          return this.#end(
            new AofkitError(ErrorCode.LogUnexpectedEof, `log ends inside an entry at offset ${this.#next}`),
          )
        }
      }
      let valid: boolean
      let position: number
      let dataStart: number
      if (this.#pending) {
        this.#pending = false
        valid = true
        record.type = this.#pendingType
        record.length = this.#pendingLength
        record.offset = 0
        position = this.#pendingPosition
        dataStart = position - this.#blockStart + HEADER_SIZE
      } else {
        position = this.#blockStart + this.#cursor
        valid = parseRecord(this.#block, this.#cursor, record)
        dataStart = this.#cursor + HEADER_SIZE
        if (valid) this.#cursor = dataStart + record.length
        if (this.#checkStart) {
          this.#checkStart = false
          const problem = valid && (record.type === RecordType.Full || record.type === RecordType.First) ? null : this.#wrongStart(position, valid)
          if (problem !== null) {
            this.#needResync = true
            throw invalidArgument(problem)
          }
        }
      }
      const type = record.type
      let ok = valid
      if (type === RecordType.Full || type === RecordType.First) {
        ok = ok && first
      } else if (type === RecordType.Middle || type === RecordType.Last) {
        ok = ok && !first
        if (ok && this.#verifyOffsets && (firstPosition < 0 || record.offset !== position - firstPosition)) {
          // A sound record in the wrong place (blocks lost, repeated or spliced). Its block is
          // intact, so the resync may go on right after it instead of at the next block.
          this.#needResync = true
          this.#resyncInBlock = true
          throw new AofkitError(
            ErrorCode.LogCorrupted,
            `corrupted log: the record at offset ${position} does not belong to the entry at offset ${firstPosition}`,
          )
        }
      }
      if (!ok) {
        this.#needResync = true
        throw new AofkitError(ErrorCode.LogCorrupted, `corrupted log record at offset ${position}`)
      }
      const data = this.#block.subarray(dataStart, dataStart + record.length)
      if (type === RecordType.Full) {
        this.#entryOffset = position
        return this.#source.stable ? data : this.#copy(data)
      }
      if (type === RecordType.First) {
        firstPosition = position
        ;(parts ??= []).push(this.#source.stable ? data : data.slice())
      } else if (type === RecordType.Middle || type === RecordType.Last) {
        ;(parts ??= []).push(this.#source.stable ? data : data.slice())
        if (type === RecordType.Last) {
          this.#entryOffset = firstPosition
          return concat(parts)
        }
      }
      // Any other valid type is ignored, as in the reference; it still ends "first".
      first = false
    }
  }

  /** Iterates over the remaining entries (see the class notes on errors). */
  [Symbol.iterator](): Iterator<Uint8Array> {
    return {
      next: (): IteratorResult<Uint8Array> => {
        const entry = this.read()
        return entry === null ? { done: true, value: undefined } : { done: false, value: entry }
      },
    }
  }

  /** A copy of `data` that the caller owns (small ones share a slab no one else writes). */
  #copy(data: Uint8Array): Uint8Array {
    const size = data.length
    if (size > SLAB_ENTRY_MAX) return data.slice()
    if (this.#slabUsed + size > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_SIZE)
      this.#slabUsed = 0
    }
    const copy = this.#slab.subarray(this.#slabUsed, this.#slabUsed + size)
    copyBytes(copy, data, 0)
    this.#slabUsed += (size + 7) & ~7
    return copy
  }

  #end(error: AofkitError | null): null {
    // A live reader waits at the clean end, and the next read() loads what arrived since.
    if (error === null && this.#live) return null
    this.#ended = true
    this.#endError = error
    if (error !== null) throw error
    return null
  }

  /**
   * Before the first block: a start where the writer pads (no record can start in the last 15
   * bytes of a block; a writer created 1..14 bytes past a boundary writes zeros up to the next
   * one) moves to the next block boundary.
   */
  #skipStartPadding(): void {
    const start = this.#next
    const inBlock = blockOffset(start)
    if (inBlock === 0) return
    const rest = BLOCK_SIZE - inBlock
    if (rest > HEADER_SIZE) {
      if (inBlock >= HEADER_SIZE) return
      // Padding only if no sound record starts at the boundary (the start would lie inside it)
      // and every byte from the start to the next boundary that exists is zero.
      const block = this.#source.read(start - inBlock, BLOCK_SIZE)
      if (parseRecord(block, 0, { type: 0, length: 0, offset: 0 })) return
      for (let index = inBlock; index < block.length; index++) if (block[index] !== 0) return
    }
    this.#next = start + rest
    this.#blockStart = this.#next
  }

  /**
   * Why the first record, at `position`, shows the start offset is wrong (null when it may just
   * be damaged): a sound MIDDLE or LAST record continues an entry that began before it, and a
   * position the block's sound records step over lies inside one of them.
   */
  #wrongStart(position: number, valid: boolean): string | null {
    const record = this.#record
    if (valid) {
      if (record.type !== RecordType.Middle && record.type !== RecordType.Last) return null
      return `offset ${position} is not where an entry starts: it holds a continuation record of the entry at offset ${position - record.offset}`
    }
    const base = position - blockOffset(position)
    const block = this.#source.read(base, BLOCK_SIZE)
    this.#generation = undefined
    const target = position - base
    const step: ParsedRecord = { type: 0, length: 0, offset: 0 }
    let cursor = 0
    while (cursor < target) {
      if (!parseRecord(block, cursor, step)) return null
      const next = cursor + HEADER_SIZE + step.length
      if (next > target) return `offset ${position} is not where an entry starts: it lies inside the record at offset ${base + cursor}`
      cursor = next
    }
    return null
  }

  /**
   * Makes `bytes` the current block. A block whose bytes cannot change is offered to XXH64's
   * staging area: copied there once, at its first short record, each of its short records is
   * then hashed in place instead of copied on its own (a fifth of a 100-byte entry's read).
   * When another reader's block takes the area meanwhile (readers taking turns), this one's
   * records are copied one by one again.
   */
  #take(bytes: Uint8Array): void {
    this.#block = bytes
    if (this.#stageable && bytes.length <= XXH64_STAGE_SIZE) xxh64Offer(bytes)
  }

  /** Loads the next block (up to the next block boundary); false at the end of the source. */
  #load(): boolean {
    const bytes = this.#source.read(this.#next, BLOCK_SIZE - (this.#next % BLOCK_SIZE))
    this.#generation = this.#source.generation
    if (bytes.length === 0) return false
    this.#take(bytes)
    this.#blockStart = this.#next
    this.#next += bytes.length
    this.#cursor = 0
    return true
  }

  /**
   * The reference's resync: drop the rest of the block, then scan the following blocks for the
   * first FULL or FIRST record, skipping valid continuation records and any block holding an
   * invalid one. After an out-of-place record (our offset check) the scan starts right after
   * that record instead. False at the end of the source.
   */
  #resync(): boolean {
    const record = this.#record
    let inBlock = this.#resyncInBlock
    this.#resyncInBlock = false
    for (;;) {
      if (!inBlock && !this.#load()) return false
      inBlock = false
      for (;;) {
        const position = this.#blockStart + this.#cursor
        if (!parseRecord(this.#block, this.#cursor, record)) break
        this.#cursor += HEADER_SIZE + record.length
        if (record.type === RecordType.Full || record.type === RecordType.First) {
          this.#pending = true
          this.#pendingType = record.type
          this.#pendingLength = record.length
          this.#pendingPosition = position
          return true
        }
      }
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0
  for (const part of parts) size += part.length
  const entry = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    copyBytes(entry, part, at)
    at += part.length
  }
  return entry
}
