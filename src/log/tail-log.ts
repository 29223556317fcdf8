/**
 * The live record tailer: whole entries of a record log as a writer appends them, from an
 * {@link AppendOnlyFile} in the same process or a {@link FileReader} of one written by another
 * thread or process.
 * @module
 */
import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { FileState } from '../aof/file-state.ts'
import { FileReader } from '../aof/reader.ts'
import { invalidArgument, optionsOf } from '../arguments.ts'
import type { AofkitError } from '../errors.ts'
import { ErrorCode, abortError, isAofkitError } from '../errors.ts'
import { LogReader } from './log-reader.ts'
import { AppendOnlyFileSource, FileReaderSource } from './sources.ts'

/** One entry of a followed log. */
export interface LogEntry {
  /** Absolute offset of the entry's first record: where a reader finds it again. */
  readonly offset: number
  /**
   * The entry's bytes. From an AppendOnlyFile in the same process, an entry in one record is a
   * view of the mapping, valid until the file is closed; otherwise a copy the caller owns.
   */
  readonly data: Uint8Array
}

/** Options of {@link tailLog}. */
export interface TailLogOptions {
  /**
   * Offset to start at: 0 (the default), or an entry boundary such as a {@link LogEntry.offset},
   * a `LogReader.position`, a value returned by `LogWriter.append`, `tell()` or `position`, or
   * a {@link rewind} result (where the writer pads, following starts at the next block). An
   * offset inside a record or on an entry's continuation record, or past the end of a finished
   * file, is refused with ERR_AOF_INVALID_ARGUMENT.
   */
  from?: number
  /** Stops following with an AbortError. */
  signal?: AbortSignal
  /**
   * Called with each ERR_LOG_CORRUPTED error; following then resyncs at the next block (losing
   * what the reference's resync loses) and goes on. Without it, the first corrupt record ends
   * the iteration with that error.
   */
  onCorrupt?: (error: AofkitError) => void
}

/**
 * Follows a record log live: yields every entry from `options.from` on as soon as its append is
 * committed, waits for more when caught up, and returns once the writer has finished the file
 * and every entry has been read (or once the AppendOnlyFile or FileReader passed is closed).
 *
 * The log must be appended whole entry by whole entry, as a {@link LogWriter} over an
 * `AppendOnlyFileSink` does; then a follower never sees half an entry. From another thread or
 * process, open the file with `AppendOnlyFile.openReader(path)` and pass the reader. When that
 * reader's writer closes the file without finishing it, following ends with
 * ERR_AOF_WRITER_CLOSED after every entry it committed; a reader opened with
 * `{ waitForWriter: true }` waits for the next writer instead, and goes on with what it appends.
 *
 * @param file - An open AppendOnlyFile holding a log, or a {@link FileReader} of one.
 * @param options - Start offset, abort signal, corruption handler.
 * @returns An async iterator of entries.
 * @throws {@link AofkitError} ERR_LOG_CORRUPTED on a damaged record (unless `onCorrupt` is
 *   given), ERR_LOG_UNEXPECTED_EOF when a finished log ends inside an entry, the reader's
 *   ERR_AOF_WRITER_DIED, ERR_AOF_WRITER_CLOSED or ERR_AOF_REPLACED, ERR_AOF_INVALID_ARGUMENT for a bad `from` (when
 *   the first entry is due, or at once past the end of a finished file); an
 *   AbortError when `signal` aborts.
 */
export async function* tailLog(
  file: AppendOnlyFile | FileReader,
  given?: TailLogOptions,
): AsyncGenerator<LogEntry, void, undefined> {
  if (!(file instanceof AppendOnlyFile || file instanceof FileReader)) {
    throw invalidArgument(`file must be an AppendOnlyFile or a FileReader, got ${String(file)}`)
  }
  const options = optionsOf(given)
  const { signal, onCorrupt } = options
  const from = options.from ?? 0
  if (!Number.isSafeInteger(from) || from < 0) {
    throw invalidArgument(`from must be a non-negative integer, got ${String(from)}`)
  }
  // A file that will not grow (finished, or read-only) ends where it ends: a start past that
  // is a wrong offset, not a wait. (From a live writer's file, following waits for it.)
  if (file.state === FileState.EOF && from > file.size) {
    throw invalidArgument(`from ${from} lies past the end of the log (${file.size} bytes)`)
  }
  const source = file instanceof AppendOnlyFile ? new AppendOnlyFileSource(file) : new FileReaderSource(file)
  const reader = new LogReader(source, { offset: from, live: true })
  // A closed file or reader has nothing more to give: its mapping or descriptor is gone. (A
  // reader whose writer closed still reads what was committed.)
  const closed =
    file instanceof AppendOnlyFile
      ? () => file.state === FileState.Closing || file.state === FileState.Closed
      : () => file.closed
  // A reader waiting for its writer to come back follows a file closed unfinished as open.
  const waits = file instanceof FileReader && file.waitForWriter
  for (;;) {
    // The state and the failure before reading: the writer publishes its last size before it
    // finishes or closes, so what follows reads every entry it committed. A file finished or
    // failed after this point is read once more below.
    const state = file.state
    const open = state === FileState.Opened || (waits && state === FileState.Closed)
    const failure = file instanceof AppendOnlyFile ? null : file.failure
    for (;;) {
      // Checked per entry: a consumer may abort or close while entries are still buffered.
      if (signal?.aborted === true) throw abortError(signal)
      if (closed()) return
      let data: Uint8Array | null
      try {
        data = reader.read()
      } catch (error) {
        if (onCorrupt === undefined || !isAofkitError(error, ErrorCode.LogCorrupted)) throw error
        onCorrupt(error)
        continue
      }
      if (data === null) break
      yield { offset: reader.entryOffset, data }
    }
    if (failure !== null) throw failure
    if (!open) return
    await file.nextChange(signal)
  }
}
