/**
 * `compactFile`: compaction of a state log that no writer has open (see src/state/compaction.ts
 * for the protocol). The log is opened as what it is, a plain file or an AppendOnlyFile, and
 * refused when the caller says otherwise.
 * @module
 */
import { closeSync, fstatSync } from 'node:fs'
import { Manager } from '../aof/manager.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { invalidArgument, optionsOf } from '../arguments.ts'
import { openLocked } from '../io/lock.ts'
import { AppendOnlyFileSource, FileSource } from '../log/sources.ts'
import { installCompaction, prepareAppendOnlyCompaction, prepareFileCompaction, removeStaleCompaction } from './compaction.ts'
import type { CompactResult } from './compaction.ts'
import { isAppendOnlyFile, withStateLogRecovery } from './container.ts'
import { recoverForWriting, tornInAppendOnlyFile } from './recover.ts'

/** Options of {@link compactFile}. */
export interface CompactFileOptions {
  /**
   * The log is kept in an {@link AppendOnlyFile} (opened with these options), as written by
   * `StateWriter.open(path, { appendOnlyFile })`. Default: a plain file.
   */
  appendOnlyFile?: OpenOptions | boolean
}

/**
 * Compacts the state log at `path`, which no writer may have open: rewrites it so that it
 * starts at its latest snapshot (with the epoch's updates after it), atomically. A torn tail is
 * left out of the new log. Use `StateWriter.compact()` for a log a writer has open.
 * @param path - The state log.
 * @param options - Whether the log is kept in an AppendOnlyFile.
 * @returns What was done.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when a writer holds the log; ERR_AOF_NOT_FOUND when
 *   there is none; the restore's errors (ERR_STATE_CORRUPT, ERR_LOG_CORRUPTED…) when it is
 *   damaged before its tail (in an AppendOnlyFile, anywhere); ERR_AOF_INVALID_ARGUMENT when,
 *   without `appendOnlyFile`, the file is an AppendOnlyFile (it has a `-shm` sidecar, or its
 *   data ends with a magic number), which compacting as a plain file would break; system codes.
 */
export async function compactFile(path: string, given?: CompactFileOptions): Promise<CompactResult> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path must be a non-empty string')
  const options = optionsOf(given)
  if (options.appendOnlyFile !== undefined && options.appendOnlyFile !== false) {
    return compactAppendOnlyPath(path, options.appendOnlyFile === true ? {} : options.appendOnlyFile)
  }
  const fd = openLocked(path, 'state log')
  try {
    if (isAppendOnlyFile(fd, path)) {
      const what = `'${path}' holds an append-only file (magic numbers or a -shm sidecar of its own)`
      throw invalidArgument(`${what}: compact it with { appendOnlyFile: true }`, path)
    }
    removeStaleCompaction(path)
    const sizeBefore = fstatSync(fd).size
    const { end, restored } = recoverForWriting(new FileSource(fd, { path }))
    const compacted = await prepareFileCompaction(fd, end, path, restored)
    if (compacted === null) return { compacted: false, sizeBefore, sizeAfter: sizeBefore }
    await installCompaction(compacted, () => undefined, () => closeSync(compacted.fd))
    return { compacted: true, sizeBefore, sizeAfter: compacted.log.position }
  } finally {
    closeSync(fd)
  }
}

async function compactAppendOnlyPath(path: string, options: OpenOptions): Promise<CompactResult> {
  // A manager of its own: a file this process already has open is a fresh open, so its lock
  // refuses us (ERR_AOF_LOCKED) instead of handing out the other user's instance.
  const manager = new Manager({ flushIntervalMs: 0 })
  try {
    const file = manager.open(path, withStateLogRecovery(options))
    removeStaleCompaction(file.path)
    const sizeBefore = file.size
    const { end, cut, restored } = recoverForWriting(new AppendOnlyFileSource(file))
    if (cut !== null) {
      restored?.updates.close()
      throw tornInAppendOnlyFile(file.path, cut.offset, cut.reason)
    }
    const compacted = await prepareAppendOnlyCompaction(file, file.path, end, options, restored)
    if (compacted === null) return { compacted: false, sizeBefore, sizeAfter: sizeBefore }
    await installCompaction(compacted, () => undefined, () => compacted.manager.close())
    return { compacted: true, sizeBefore, sizeAfter: compacted.log.position }
  } finally {
    await manager.close()
  }
}
