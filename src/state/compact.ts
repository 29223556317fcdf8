/**
 * Compaction (the reference's "TODO: support log file truncation"): rewrite a state log so that
 * it starts at its latest snapshot. The new log is written next to the old one, made durable,
 * renamed over it, and the directory is made durable, so a crash at any point leaves either the
 * old or the new log; both restore to the same state.
 *
 * A log kept in an {@link AppendOnlyFile} is compacted into a new AppendOnlyFile at
 * `<path>.compact`, whose `-shm` sidecar is renamed to `<path>-shm` right after the data file,
 * so that readers who open the path afterwards follow the new writer, and readers of the old
 * file find it replaced.
 * @module
 */
import { closeSync, existsSync, constants as fsConstants, fstatSync, openSync, readSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AppendOnlyFile } from '../aof/append-only-file.ts'
import { MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL } from '../aof/magic.ts'
import { Manager } from '../aof/manager.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { sidecarPath } from '../aof/shm.ts'
import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { fdatasyncAsync, rename, syncDirectory } from '../io/durable.ts'
import { lockExclusive } from '../io/lock.ts'
import { LogWriter } from '../log/log-writer.ts'
import { AppendOnlyFileSink, FileSink } from '../log/sinks.ts'
import { AppendOnlyFileSource, FileSource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { EntryType, buildStateEntry } from './entry.ts'
import { recoverForWriting } from './recover.ts'
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

/** Options of {@link compactFile}. */
export interface CompactFileOptions {
  /**
   * The log is kept in an {@link AppendOnlyFile} (opened with these options), as written by
   * `StateWriter.open(path, { appendOnlyFile })`. Default: a plain file.
   */
  appendOnlyFile?: OpenOptions | boolean
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

/** Appends the epoch's snapshot at offset 0 and its updates to `log`; returns the snapshot's size. */
function writeEpoch(log: LogWriter, state: Uint8Array, updates: Iterable<Uint8Array>): number {
  // A snapshot at offset 0 opens epoch 0; it carries the previous epoch, 0 for a new log.
  log.append(buildStateEntry(EntryType.Snapshot, 0, state))
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
): { state: Uint8Array; updates: Iterable<Uint8Array> & { close(): void } } | null {
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
export async function compactFile(path: string, options: CompactFileOptions = {}): Promise<CompactResult> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path must be a non-empty string')
  if (options.appendOnlyFile !== undefined && options.appendOnlyFile !== false) {
    return compactAppendOnlyPath(path, options.appendOnlyFile === true ? {} : options.appendOnlyFile)
  }
  let fd: number
  try {
    fd = openSync(path, fsConstants.O_RDWR)
  } catch (error) {
    throw fromSystemError(error, path, 'openForWrite')
  }
  try {
    lockExclusive(fd, path, 'state log')
    if (looksLikeAppendOnlyFile(fd, path)) {
      const what = `'${path}' holds an append-only file (magic numbers or a -shm sidecar)`
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

/**
 * True when the file is an AppendOnlyFile rather than a plain log: it has a `-shm` sidecar, or
 * its last non-zero bytes are a MagicTail or MagicCheckpoint (an AppendOnlyFile's data ends
 * with one, followed by allocated zeros). Compacting one as a plain file would drop the magic
 * numbers its recovery needs.
 */
function looksLikeAppendOnlyFile(fd: number, path: string): boolean {
  if (existsSync(sidecarPath(path))) return true
  // Walk back over the zeros an AppendOnlyFile allocates ahead (a plain log has none).
  const chunk = Buffer.allocUnsafe(1 << 20)
  let end = fstatSync(fd).size
  while (end > 0) {
    const start = Math.max(0, end - chunk.length)
    const read = readSync(fd, chunk, 0, end - start, start)
    let last = read - 1
    while (last >= 0 && chunk[last] === 0) last--
    if (last >= 0) {
      const magicEnd = start + last + 1
      if (magicEnd < MAGIC_SIZE) return false
      const magic = Buffer.allocUnsafe(MAGIC_SIZE)
      readSync(fd, magic, 0, MAGIC_SIZE, magicEnd - MAGIC_SIZE)
      const value = magic.readBigUInt64LE(0)
      return value === MAGIC_TAIL || value === MAGIC_CHECKPOINT
    }
    end = start
  }
  return false
}

async function compactAppendOnlyPath(path: string, options: OpenOptions): Promise<CompactResult> {
  // A manager of its own: a file this process already has open is a fresh open, so its lock
  // refuses us (ERR_AOF_LOCKED) instead of handing out the other user's instance.
  const manager = new Manager({ flushIntervalMs: 0 })
  try {
    const file = manager.open(path, options)
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

/**
 * The error for a torn entry in an AppendOnlyFile, where every entry is one append that lands
 * whole or not at all: it is damage, not a crash's leftover.
 * @internal
 */
export function tornInAppendOnlyFile(path: string, offset: number, reason: string): AofkitError {
  return new AofkitError(ErrorCode.LogCorrupted, `corrupted state log in '${path}' at offset ${offset}: ${reason}`, { path })
}
