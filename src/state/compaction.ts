/**
 * The compaction protocol (the reference's "TODO: support log file truncation"): a state log is
 * rewritten so that it starts at its latest snapshot. The new log is written next to the old
 * one (`<path>.compact`), made durable, renamed over it, and the directory is made durable, so
 * a crash at any point leaves either the old or the new log; both restore to the same state.
 *
 * A log kept in an {@link AppendOnlyFile} is compacted into a new AppendOnlyFile at
 * `<path>.compact`, whose `-shm` sidecar is renamed to `<path>-shm` right after the data file,
 * so that readers who open the path afterwards follow the new writer, and readers of the old
 * file find it replaced.
 *
 * Used by `StateWriter.compact()` and by {@link compactFile} (src/state/compact.ts).
 * @module
 */
import { closeSync, constants as fsConstants, openSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AppendOnlyFile } from '../aof/append-only-file.ts'
import { Manager } from '../aof/manager.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { sidecarPath } from '../aof/shm.ts'
import { fromSystemError } from '../errors.ts'
import { fdatasyncAsync, rename, syncDirectory } from '../io/durable.ts'
import { lockExclusive } from '../io/lock.ts'
import { LogWriter } from '../log/log-writer.ts'
import { AppendOnlyFileSink, FileSink } from '../log/sinks.ts'
import { AppendOnlyFileSource, FileSource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { EntryType, buildStateEntry } from './entry.ts'
import { restoreFromLog } from './restore.ts'
import type { RestoredAt } from './restore.ts'

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

/**
 * Removes a compaction's temporary files left by a crash (they never hold the only copy): the
 * temporary log and, for an AppendOnlyFile, its sidecar. Call it only while holding the log's
 * writer lock, or it may remove the files of a compaction running in another process.
 * @internal
 */
export function removeStaleCompaction(path: string): void {
  const temporary = compactionPath(path)
  rmSync(temporary, { force: true })
  rmSync(sidecarPath(temporary), { force: true })
}

/** A compacted log written to the temporary file, durable, not yet in place. @internal */
export interface PreparedCompaction {
  /** The writer of the new log, positioned at its end. */
  log: LogWriter
  /** The epoch of the new log: its snapshot is at offset 0. */
  epoch: number
  /** Bytes the snapshot entry takes. */
  snapshotSize: number
  /**
   * Renames the new log over the old one: the atomic step. When it throws, nothing was
   * installed (call {@link PreparedCompaction.discard}).
   */
  install(): void
  /** After {@link install}: the rest (the sidecar's rename, the directory's fsync). */
  settle(): Promise<void>
  /** Before or instead of {@link install}: closes and removes the temporary files. */
  discard(): Promise<void>
}

/**
 * Installs a prepared compaction: renames it in (discarding it when that fails, which leaves
 * the old log), calls `installed` (from here on the new log is the log), then settles it;
 * `release` runs after the settle, whether or not it succeeded.
 */
export async function installCompaction(
  prepared: PreparedCompaction,
  installed: () => void,
  release: () => void | Promise<void>,
): Promise<void> {
  try {
    prepared.install()
  } catch (error) {
    await prepared.discard()
    throw error
  }
  installed()
  try {
    await prepared.settle()
  } finally {
    await release()
  }
}

/** The entries of the one epoch a rewritten log holds: its snapshot (if any) and updates. */
export interface EpochContent {
  /** The snapshot's bytes, or `null` for an epoch 0 without one. */
  state: Uint8Array | null
  /** The updates, in order (closed if the write stops early). */
  updates: Iterable<Uint8Array> & { close(): void }
}

/** Appends the epoch's snapshot at offset 0 and its updates to `log`; returns the snapshot's size. */
function writeEpoch(log: LogWriter, state: Uint8Array | null, updates: Iterable<Uint8Array>): number {
  // A snapshot at offset 0 opens epoch 0; it carries the previous epoch, 0 for a new log.
  if (state !== null) log.append(buildStateEntry(EntryType.Snapshot, 0, state))
  const snapshotSize = log.position
  for (const update of updates) log.append(buildStateEntry(EntryType.Update, 0, update))
  return snapshotSize
}

/**
 * The latest epoch of the first `size` bytes, or `null` when compaction has nothing to drop.
 * `restored`, when given, is a restore of exactly those bytes whose updates are unread (what
 * recoverForWriting hands over): used instead of reading and checksumming the log again.
 */
function latestEpoch(
  source: LogSource,
  size: number,
  restored: RestoredAt | null = null,
): EpochContent | null {
  restored ??= restoreFromLog(source, size)
  if (restored.state === null || restored.epoch === 0) {
    restored.updates.close()
    return null
  }
  return { state: restored.state, updates: restored.updates }
}

/**
 * Writes the latest epoch of the plain-file log in `fd` (its first `size` bytes) to the
 * temporary file as a snapshot at offset 0 followed by the epoch's updates, makes it durable
 * and locks it. Returns `null` when the log has nothing to drop.
 * @internal
 */
export async function prepareFileCompaction(
  fd: number,
  size: number,
  path: string,
  restored: RestoredAt | null = null,
): Promise<(PreparedCompaction & { fd: number; sink: FileSink }) | null> {
  const epoch = latestEpoch(new FileSource(fd, { size, path }), size, restored)
  if (epoch === null) return null
  return writeFileLog(epoch, path)
}

/**
 * Writes `epoch` to the temporary file of the plain-file log at `path` as a new log (the
 * snapshot at offset 0, then the updates), makes it durable and locks it.
 * @internal
 */
export async function writeFileLog(epoch: EpochContent, path: string): Promise<PreparedCompaction & { fd: number; sink: FileSink }> {
  const temporary = compactionPath(path)
  let newFd: number
  try {
    newFd = openSync(temporary, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644)
  } catch (error) {
    epoch.updates.close()
    throw fromSystemError(error, temporary, 'create')
  }
  const discard = (): Promise<void> => {
    closeSync(newFd)
    rmSync(temporary, { force: true })
    return Promise.resolve()
  }
  try {
    lockExclusive(newFd, temporary, 'state log')
    const sink = new FileSink(newFd, { position: 0, path })
    const log = new LogWriter(sink, { offset: 0 })
    const snapshotSize = writeEpoch(log, epoch.state, epoch.updates)
    sink.flush()
    await fdatasyncAsync(newFd, temporary)
    return {
      fd: newFd,
      sink,
      log,
      epoch: 0,
      snapshotSize,
      install: () => rename(temporary, path),
      settle: () => syncDirectory(dirname(path)),
      discard,
    }
  } catch (error) {
    await discard()
    throw error
  }
}

/**
 * Writes the latest epoch of the log in `file` (its first `size` bytes) into a new
 * AppendOnlyFile at the temporary path of `path` (the log's path: after a compaction, the
 * file's own `path` still names the temporary file it was created as), opened with `options`
 * (its `sizeUpper` at least the old file's) through a new manager of its own, and syncs it.
 * Returns `null` when there is nothing to drop.
 * @internal
 */
export async function prepareAppendOnlyCompaction(
  file: AppendOnlyFile,
  path: string,
  size: number,
  options: OpenOptions,
  restored: RestoredAt | null = null,
): Promise<(PreparedCompaction & { file: AppendOnlyFile; manager: Manager }) | null> {
  const epoch = latestEpoch(new AppendOnlyFileSource(file), size, restored)
  if (epoch === null) return null
  return writeAppendOnlyLog(file, path, epoch, options)
}

/**
 * Writes `epoch` into a new AppendOnlyFile at the temporary path of `path`, opened with
 * `options` (its `sizeUpper` at least that of `file`, the log's file now) through a new manager
 * of its own, and syncs it.
 * @internal
 */
export async function writeAppendOnlyLog(
  file: AppendOnlyFile,
  path: string,
  epoch: EpochContent,
  options: OpenOptions,
): Promise<PreparedCompaction & { file: AppendOnlyFile; manager: Manager }> {
  const temporary = compactionPath(path)
  // One manager per file: a manager hands out the instance it has open under a name, and the
  // file being replaced may itself still be known by the temporary name of its own compaction.
  const manager = new Manager()
  let newFile: AppendOnlyFile
  try {
    // A crash of an earlier compaction may have left them: this process holds the lock.
    removeStaleCompaction(path)
    const geometry = { ...options.geometry, sizeUpper: Math.max(options.geometry?.sizeUpper ?? 0, file.geometry.sizeUpper) }
    newFile = manager.open(temporary, { ...options, geometry, create: true })
  } catch (error) {
    epoch.updates.close()
    await manager.close()
    throw error
  }
  const discard = async (): Promise<void> => {
    await manager.close()
    removeStaleCompaction(path)
  }
  try {
    const log = new LogWriter(new AppendOnlyFileSink(newFile), { offset: 0 })
    const snapshotSize = writeEpoch(log, epoch.state, epoch.updates)
    await newFile.sync()
    return {
      file: newFile,
      manager,
      log,
      epoch: 0,
      snapshotSize,
      // The data file first: the moment it is renamed, the new log is the log. A crash before
      // the sidecar follows leaves the old sidecar, whose inode no longer matches: recovery
      // then trusts the magic numbers, and the new file ends in a clean MagicTail.
      install: () => {
        rename(temporary, path)
        // Named by the log's path from now on, in its messages and its manager.
        newFile.renamed(path)
      },
      settle: async () => {
        rename(sidecarPath(temporary), sidecarPath(path))
        await syncDirectory(dirname(path))
      },
      discard,
    }
  } catch (error) {
    await discard()
    throw error
  }
}
