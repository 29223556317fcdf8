/**
 * The sink a journal segment's {@link LogWriter} writes through: straight into the segment's
 * AppendOnlyFile, one file append per entry, or, inside a batch, into a buffer that lands as
 * one file append when the batch ends. The file's append is all-or-nothing against a crash, so
 * a batch is too.
 * @module
 */
import type { AppendOnlyFile } from '../aof/append-only-file.ts'
import { copyBytes } from '../io/copy-bytes.ts'
import { MemorySink } from '../log/sinks.ts'
import type { LogSink, SinkFill } from '../log/sinks.ts'

/** A {@link LogSink} over an AppendOnlyFile that can gather several entries into one append. */
export class BatchSink implements LogSink {
  /** Every entry arrives in one call, as with `AppendOnlyFileSink`. */
  readonly appendSizeMax: number = Infinity
  readonly #file: AppendOnlyFile
  #batch: MemorySink | null = null

  constructor(file: AppendOnlyFile) {
    this.#file = file
  }

  /** The file's size plus what the open batch holds. */
  get size(): number {
    return this.#file.size + (this.#batch?.size ?? 0)
  }

  /** @inheritDoc LogSink.append */
  append(size: number, fill: SinkFill): void {
    if (this.#batch !== null) this.#batch.append(size, fill)
    else this.#file.appendFill(size, fill)
  }

  /** Nothing to do: the file's appends are in its mapping already. */
  flush(): void {}

  /** Starts gathering appends. */
  begin(): void {
    this.#batch = new MemorySink()
  }

  /**
   * Appends what was gathered as one file append and stops gathering.
   * @throws {@link AofkitError} what the file's append throws; nothing is written then.
   */
  commit(): void {
    const batch = this.#batch
    this.#batch = null
    if (batch === null || batch.size === 0) return
    const bytes = batch.bytes()
    this.#file.appendFill(bytes.length, (target, at) => {
      copyBytes(target, bytes, at)
    })
  }

  /** Drops what was gathered. */
  abort(): void {
    this.#batch = null
  }
}
