/**
 * Compaction (the reference's "TODO: support log file truncation"): rewrite a state log so that
 * it starts at its latest snapshot. The new log is written next to the old one, made durable,
 * renamed over it, and the directory is made durable, so a crash at any point leaves either the
 * old or the new log; both restore to the same state.
 * @module
 */
import { closeSync, constants as fsConstants, fdatasync, fstatSync, openSync, rmSync } from 'node:fs'
import { open as openAsync, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { LogWriter } from '../log/log-writer.ts'
import { FileSink } from '../log/sinks.ts'
import { FileSource } from '../log/sources.ts'
import { EntryType, encodeStateEntry } from './entry.ts'
import { recoverForWriting } from './recover.ts'
import { restoreFromLog } from './restore.ts'

/** What a compaction did. */
export interface CompactResult {
  /** False when there was nothing to drop (the log already starts at its latest snapshot). */
  compacted: boolean
  /** Size of the log before, in bytes. */
  sizeBefore: number
  /** Size of the log after, in bytes. */
  sizeAfter: number
}

/** The temporary file a compaction of `path` writes (removed on the next open after a crash). */
export function compactionPath(path: string): string {
  return `${path}.compact`
}

/** Removes a compaction's temporary file left by a crash (it never holds the only copy). */
export function removeStaleCompaction(path: string): void {
  rmSync(compactionPath(path), { force: true })
}

/** A compacted log written to the temporary file, durable, not yet in place. @internal */
export interface CompactedFile {
  fd: number
  sink: FileSink
  log: LogWriter
  /** The epoch of the new log: its snapshot is at offset 0. */
  epoch: number
  /** Bytes the snapshot entry takes. */
  snapshotSize: number
}

function syncFd(fd: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fdatasync(fd, (error) => {
      if (error === null) resolve()
      else reject(fromSystemError(error, path, 'fdatasync'))
    })
  })
}

/**
 * Writes the latest epoch of the log in `fd` (its first `size` bytes) to the temporary file as
 * a snapshot at offset 0 followed by the epoch's updates, makes it durable and locks it.
 * Returns `null` when the log has nothing to drop.
 * @internal
 */
export async function writeCompacted(fd: number, size: number, path: string): Promise<CompactedFile | null> {
  const restored = restoreFromLog(new FileSource(fd, { size, path }), size)
  if (restored.state === null || restored.epoch === 0) {
    restored.updates.close()
    return null
  }
  const temporary = compactionPath(path)
  let newFd: number
  try {
    newFd = openSync(temporary, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644)
  } catch (error) {
    throw fromSystemError(error, temporary, 'open')
  }
  try {
    native.flock(newFd, native.lock.exclusive | native.lock.nonBlocking)
    const sink = new FileSink(newFd, { position: 0, path })
    const log = new LogWriter(sink, { offset: 0 })
    // A snapshot at offset 0 opens epoch 0; it carries the previous epoch, 0 for a new log.
    log.append(encodeStateEntry(EntryType.Snapshot, 0, restored.state))
    const snapshotSize = log.position
    for (const update of restored.updates) log.append(encodeStateEntry(EntryType.Update, 0, update))
    sink.flush()
    await syncFd(newFd, temporary)
    return { fd: newFd, sink, log, epoch: 0, snapshotSize }
  } catch (error) {
    closeSync(newFd)
    rmSync(temporary, { force: true })
    throw error
  }
}

/** Makes a rename in `directory` durable. @internal */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await openAsync(directory, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Puts the compacted file in place of `path`: rename, then fsync of the directory.
 * @internal
 */
export async function installCompacted(path: string): Promise<void> {
  await rename(compactionPath(path), path)
  await syncDirectory(dirname(path))
}

/**
 * Compacts the state log at `path`, which no writer may have open: rewrites it so that it
 * starts at its latest snapshot (with the epoch's updates after it), atomically. A torn tail is
 * left out of the new log. Use {@link StateWriter.compact} for a log a writer has open.
 * @param path - The state log.
 * @returns What was done.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when a writer holds the log; the restore's errors
 *   (ERR_STATE_CORRUPT, ERR_LOG_CORRUPTED…) when it is damaged before its tail; system codes.
 */
export async function compactFile(path: string): Promise<CompactResult> {
  removeStaleCompaction(path)
  let fd: number
  try {
    fd = openSync(path, fsConstants.O_RDWR)
  } catch (error) {
    throw fromSystemError(error, path, 'open')
  }
  try {
    lockExclusive(fd, path)
    const sizeBefore = fstatSync(fd).size
    const { end } = recoverForWriting(new FileSource(fd, { path }))
    const compacted = await writeCompacted(fd, end, path)
    if (compacted === null) return { compacted: false, sizeBefore, sizeAfter: sizeBefore }
    const sizeAfter = compacted.log.position
    try {
      await installCompacted(path)
    } finally {
      closeSync(compacted.fd)
    }
    return { compacted: true, sizeBefore, sizeAfter }
  } finally {
    closeSync(fd)
  }
}

/** Takes the single-writer lock on `fd`. @internal */
export function lockExclusive(fd: number, path: string): void {
  try {
    native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
      throw new AofkitError(ErrorCode.Locked, `state log '${path}' is locked by another writer`, { path, cause: error })
    }
    throw fromSystemError(error, path, 'flock')
  }
}
