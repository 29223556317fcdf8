/**
 * Where a state writer keeps its log: a plain file (locked with flock, synced by group commit),
 * an {@link AppendOnlyFile} (the writer's own, or one the caller opened), or any record-log
 * sink. Each is a {@link Target}; opening one restores the log and finds where to append.
 * @module
 */
import { closeSync } from 'node:fs'
import type { AppendOnlyFile } from '../aof/append-only-file.ts'
import { GroupSync } from '../aof/group-sync.ts'
import { Manager } from '../aof/manager.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { invalidArgument } from '../arguments.ts'
import { truncateDurably } from '../io/durable.ts'
import { openLocked } from '../io/lock.ts'
import { LogWriter } from '../log/log-writer.ts'
import { AppendOnlyFileSink, FileSink } from '../log/sinks.ts'
import type { LogSink } from '../log/sinks.ts'
import { AppendOnlyFileSource, FileSource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { prepareAppendOnlyCompaction, prepareFileCompaction, removeStaleCompaction } from './compaction.ts'
import type { PreparedCompaction } from './compaction.ts'
import { isAppendOnlyFile, refuseUnlessAppendOnly, withStateLogRecovery } from './container.ts'
import { recoverForWriting, tornInAppendOnlyFile } from './recover.ts'
import type { Recovered, TailCut } from './recover.ts'
import { restoreFromLog } from './restore.ts'
import type { Restored } from './restore.ts'

/** How the writer reaches its storage. */
export interface Target {
  readonly sink: LogSink
  /** Makes everything appended so far durable (group-committed where it matters). */
  durable(): Promise<void>
  /** Releases what the writer opened. */
  close(): Promise<void>
  /**
   * Writes the compacted first `size` bytes of the log beside it, durable, with the target
   * that will write on after it; `null` when there is nothing to drop.
   */
  prepareCompaction(size: number): Promise<(PreparedCompaction & { target: Target }) | null>
}

/** Files (given by callers) that a state writer holds, so that a second one is refused. */
const heldFiles = new WeakSet<AppendOnlyFile>()

function notCompactable(message: string): Promise<never> {
  return Promise.reject(invalidArgument(message))
}

export class MemoryTarget implements Target {
  readonly sink: LogSink
  constructor(sink: LogSink) {
    this.sink = sink
  }
  durable(): Promise<void> {
    this.sink.flush()
    return Promise.resolve()
  }
  close(): Promise<void> {
    this.sink.flush()
    return Promise.resolve()
  }
  prepareCompaction(): Promise<never> {
    return notCompactable('compact() needs a state log opened with StateWriter.open(path), not a sink')
  }
}

export class FileTarget implements Target {
  readonly fd: number
  readonly path: string
  readonly sink: FileSink
  readonly #group: GroupSync
  constructor(fd: number, path: string, sink: FileSink, position: () => number) {
    this.fd = fd
    this.path = path
    this.sink = sink
    this.#group = new GroupSync(() => sink.sync(), position)
  }
  durable(): Promise<void> {
    return this.#group.sync()
  }
  async close(): Promise<void> {
    await this.#group.idle()
    closeSync(this.fd)
  }
  async prepareCompaction(size: number): Promise<(PreparedCompaction & { target: Target }) | null> {
    this.sink.flush()
    const prepared = await prepareFileCompaction(this.fd, size, this.path)
    if (prepared === null) return null
    const log = prepared.log
    return { ...prepared, target: new FileTarget(prepared.fd, this.path, prepared.sink, () => log.position) }
  }
}

export class AppendOnlyFileTarget implements Target {
  readonly file: AppendOnlyFile
  /** The log's path (a compacted file keeps the temporary name as its `path`). */
  readonly path: string
  readonly sink: LogSink
  /** The manager of the file when the writer opened it (one per file); `null` for a caller's file. */
  readonly #manager: Manager | null
  readonly #options: OpenOptions
  constructor(file: AppendOnlyFile, path: string, manager: Manager | null, options: OpenOptions) {
    this.file = file
    this.path = path
    this.sink = new AppendOnlyFileSink(file)
    this.#manager = manager
    this.#options = options
    if (manager === null) heldFiles.add(file)
  }
  durable(): Promise<void> {
    return this.file.sync()
  }
  async close(): Promise<void> {
    if (this.#manager === null) heldFiles.delete(this.file)
    else await this.#manager.close()
  }
  async prepareCompaction(size: number): Promise<(PreparedCompaction & { target: Target }) | null> {
    if (this.#manager === null) {
      // Replacing the file would pull it from under its owner, who keeps using the old one.
      return notCompactable('compact() over an AppendOnlyFile needs the writer to own it: open the state log by path with { appendOnlyFile }')
    }
    const prepared = await prepareAppendOnlyCompaction(this.file, this.path, size, this.#options)
    if (prepared === null) return null
    return { ...prepared, target: new AppendOnlyFileTarget(prepared.file, this.path, prepared.manager, this.#options) }
  }
}

/** True when a state writer holds `file` (an AppendOnlyFile its caller opened). */
export function isHeld(file: AppendOnlyFile): boolean {
  return heldFiles.has(file)
}

/** A storage opened for writing: its target, a log writer at its end, and what was restored. */
export interface OpenedStorage {
  target: Target
  log: LogWriter
  /** The epoch the writer continues. */
  epoch: number
  restored: Restored
  /** The torn tail cut on open, or `null`. */
  cut: TailCut | null
}

function recover(source: LogSource, repair: boolean): Recovered {
  if (repair) return recoverForWriting(source)
  // The reference: restore must succeed, and the writer appends at the end of the file.
  const restored = restoreFromLog(source, source.size)
  return { epoch: restored.epoch, end: source.size, cut: null, restored }
}

/**
 * Opens (creating if needed) the plain-file state log at `path` under its lock, restores it
 * and cuts a torn tail; `null` (and nothing done) when the file is an AppendOnlyFile.
 * @internal
 */
export function openFileStorage(path: string, repair: boolean): OpenedStorage | null {
  const fd = openLocked(path, 'state log', true)
  try {
    if (isAppendOnlyFile(fd, path)) {
      // Opened as a plain file, its end marker and allocated space would be cut.
      closeSync(fd)
      return null
    }
    // Left by a compaction a crash interrupted; only removed under the lock, since another
    // writer's compaction may be running.
    removeStaleCompaction(path)
    const source = new FileSource(fd, { path })
    const { epoch, end, cut, restored: recovered } = recover(source, repair)
    if (cut !== null) truncateDurably(fd, end, path)
    const restored = recovered ?? restoreFromLog(new FileSource(fd, { path, size: end }), end)
    const sink = new FileSink(fd, { position: end, path })
    const log = new LogWriter(sink, { offset: end })
    return { target: new FileTarget(fd, path, sink, () => log.position), log, epoch, restored, cut }
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/**
 * Opens the state log in `file`: restores it, refusing a torn entry (an append lands whole).
 * @param manager - The manager that opened `file` for the writer, or `null` for a caller's file.
 * @internal
 */
export function openAppendOnlyStorage(file: AppendOnlyFile, manager: Manager | null, openOptions: OpenOptions, repair: boolean): OpenedStorage {
  const source = new AppendOnlyFileSource(file)
  const { epoch, end, cut, restored: recovered } = recover(source, repair)
  // Entries land in an AppendOnlyFile whole or not at all, so a torn entry is damage.
  if (cut !== null) throw tornInAppendOnlyFile(file.path, cut.offset, cut.reason)
  const restored = recovered ?? restoreFromLog(source, end)
  const log = new LogWriter(new AppendOnlyFileSink(file), { offset: end })
  return { target: new AppendOnlyFileTarget(file, file.path, manager, openOptions), log, epoch, restored, cut: null }
}

/**
 * Opens (creating if needed) the state log at `path` in an AppendOnlyFile of the writer's own,
 * through a manager of its own: opening a path this process already has open is then a second
 * open, which the file's lock refuses, instead of sharing the other user's instance.
 * @internal
 */
export async function openAppendOnlyPath(path: string, openOptions: OpenOptions, repair: boolean): Promise<OpenedStorage> {
  const manager = new Manager()
  try {
    const file = manager.open(path, { create: true, ...withStateLogRecovery(openOptions) })
    // Left by a compaction a crash interrupted; we hold the lock now.
    removeStaleCompaction(file.path)
    return openAppendOnlyStorage(file, manager, openOptions, repair)
  } catch (error) {
    await manager.close()
    throw error
  }
}

/**
 * Opens the state log at `path` as what it is: with `appendOnly` (its open options) in an
 * AppendOnlyFile, refusing a plain log; without, in a plain file, or in an AppendOnlyFile
 * (with default options) when the file is one.
 * @internal
 */
export async function openPathStorage(path: string, appendOnly: OpenOptions | null, repair: boolean): Promise<OpenedStorage> {
  if (appendOnly !== null) {
    refuseUnlessAppendOnly(path)
    return openAppendOnlyPath(path, appendOnly, repair)
  }
  return openFileStorage(path, repair) ?? openAppendOnlyPath(path, {}, repair)
}
