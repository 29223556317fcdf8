/**
 * Salvage: rewrites a damaged state log so that it opens again, keeping every entry of its
 * latest epoch that can be read. It drops damaged ranges (records failing their checksums),
 * entries the caller names (an update the application cannot decode: `skip`), or everything
 * from an offset on (`cutAt`), and says what it dropped. The new log is the latest readable
 * snapshot at offset 0 followed by the kept updates, installed by the compaction protocol
 * (written beside the log, made durable, renamed over it), after a copy of the old log is kept
 * as a backup. For `aof salvage`; no writer may have the log open.
 * @module
 */
import { closeSync, copyFileSync, existsSync, constants as fsConstants, fstatSync, openSync } from 'node:fs'
import { Manager } from '../aof/manager.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { describeValue, invalidArgument, optionsOf } from '../arguments.ts'
import { fromSystemError } from '../errors.ts'
import { fdatasyncSync } from '../io/durable.ts'
import { openLocked } from '../io/lock.ts'
import { encodedSize } from '../log/format.ts'
import { LogReader } from '../log/log-reader.ts'
import { findEntries, scanLog } from '../log/scan.ts'
import { AppendOnlyFileSource, FileSource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { installCompaction, removeStaleCompaction, writeAppendOnlyLog, writeFileLog } from './compaction.ts'
import type { EpochContent } from './compaction.ts'
import { isAppendOnlyFile, withStateLogRecovery } from './container.ts'
import { ENTRY_HEADER_SIZE, EntryType, decodeStateEntry } from './entry.ts'

/** Options of {@link salvageFile}. */
export interface SalvageOptions {
  /** Offsets of entries to leave out (as an ERR_STATE_ENTRY_REJECTED error names them). */
  skip?: readonly number[]
  /** Leave out everything from this offset on (an entry's offset, or where damage begins). */
  cutAt?: number
  /** Only say what would be done. Default: false. */
  dryRun?: boolean
  /** Where to copy the old log first. Default: `<path>.salvage-<n>`, the first that is free. */
  backup?: string
  /** The log is in an AppendOnlyFile opened with these options. Default: what the file is. */
  appendOnlyFile?: OpenOptions | boolean
}

/** A range of the log that salvage leaves out. */
export interface DroppedRange {
  /** Its first byte. */
  offset: number
  /** Just past it. */
  end: number
  /** Why it is left out. */
  reason: string
}

/** What {@link salvageFile} did (or, with `dryRun`, would do). */
export interface SalvageResult {
  /** False when nothing is left out (the log is whole) or with `dryRun`: the log is unchanged. */
  salvaged: boolean
  /** Size of the log before, in bytes. */
  sizeBefore: number
  /** Size of the new log (the planned size with `dryRun`), in bytes. */
  sizeAfter: number
  /** Offset of the snapshot kept, or `null` when the log keeps none. */
  snapshotOffset: number | null
  /** Updates kept after it. */
  updates: number
  /** The ranges of the latest epoch left out, in order. */
  dropped: DroppedRange[]
  /** The copy of the old log, or `null` when none was made. */
  backup: string | null
}

interface Entry {
  offset: number
  end: number
  type: number
  epoch: number
  payload: Uint8Array
}

interface Plan {
  content: EpochContent
  snapshotOffset: number | null
  updates: number
  size: number
  dropped: DroppedRange[]
}

/** Reads every entry the log holds (the salvage search included) and decides what to keep. */
function plan(source: LogSource, skip: ReadonlySet<number>, cutAt: number): Plan {
  const entries: Entry[] = []
  const dropped: DroppedRange[] = []
  const scan = scanLog(source, {
    onEntry: (offset, data) => {
      const end = offset + encodedSize(offset, data.length)
      const entry = decodeStateEntry(data.slice())
      if (entry === null) dropped.push({ offset, end, reason: 'a malformed state entry' })
      else entries.push({ offset, end, type: entry.type, epoch: entry.epoch, payload: entry.payload })
    },
  })
  const known = new Set(entries.map((entry) => entry.offset))
  for (const offset of skip) {
    if (!known.has(offset)) throw invalidArgument(`no state entry starts at offset ${offset} (skip takes the offset an error names)`)
  }
  if (cutAt !== Infinity && !known.has(cutAt) && !scan.damaged.some((range) => range.begin === cutAt) && cutAt !== source.size) {
    throw invalidArgument(`cutAt ${cutAt} is neither where an entry starts nor where damage begins`)
  }
  // Inside each damaged range, the complete entries the reader's resync skipped are kept.
  for (const range of scan.damaged) {
    let cursor = range.begin
    for (const offset of findEntries(source, range.begin, range.end)) {
      const data = new LogReader(source, { offset }).read()
      if (data === null) continue
      if (offset > cursor && !allZero(source, cursor, offset)) dropped.push({ offset: cursor, end: offset, reason: range.reason })
      cursor = offset + encodedSize(offset, data.length)
      const entry = decodeStateEntry(data.slice())
      if (entry === null) dropped.push({ offset, end: cursor, reason: 'a malformed state entry' })
      else entries.push({ offset, end: cursor, type: entry.type, epoch: entry.epoch, payload: entry.payload })
    }
    if (cursor < range.end && !allZero(source, cursor, range.end)) dropped.push({ offset: cursor, end: range.end, reason: range.reason })
  }
  entries.sort((a, b) => a.offset - b.offset)
  const usable: Entry[] = []
  for (const entry of entries) {
    if (entry.offset >= cutAt) dropped.push({ offset: entry.offset, end: entry.end, reason: `at or after the cut at ${cutAt}` })
    else if (skip.has(entry.offset)) dropped.push({ offset: entry.offset, end: entry.end, reason: 'skipped' })
    else usable.push(entry)
  }
  let snapshot: Entry | null = null
  for (const entry of usable) if (entry.type === EntryType.Snapshot) snapshot = entry
  const epoch = snapshot === null ? 0 : snapshot.offset
  const kept: Uint8Array[] = []
  for (const entry of usable) {
    if (snapshot !== null && entry.offset <= snapshot.offset) continue
    if (entry.epoch === epoch) kept.push(entry.payload)
    else dropped.push({ offset: entry.offset, end: entry.end, reason: `an update of epoch ${entry.epoch}, whose snapshot is lost or left out (the latest readable one is at ${epoch})` })
  }
  // Damage and entries before the kept snapshot belong to older epochs, which compaction
  // drops anyway: only what the latest epoch loses is reported.
  const lost = dropped.filter((range) => range.end > epoch).sort((a, b) => a.offset - b.offset)
  const updates = kept.values()
  return {
    content: { state: snapshot?.payload ?? null, updates: Object.assign(updates, { close: () => undefined }) },
    snapshotOffset: snapshot?.offset ?? null,
    updates: kept.length,
    size: sizeOf(snapshot?.payload ?? null, kept),
    dropped: lost,
  }
}

/** The size of the log the compaction writes for this epoch, from offset 0. */
function sizeOf(state: Uint8Array | null, updates: readonly Uint8Array[]): number {
  let size = state === null ? 0 : encodedSize(0, ENTRY_HEADER_SIZE + state.length)
  for (const update of updates) size += encodedSize(size, ENTRY_HEADER_SIZE + update.length)
  return size
}

function allZero(source: LogSource, begin: number, end: number): boolean {
  return source.read(begin, end - begin).every((byte) => byte === 0)
}

function backupPath(path: string): string {
  const base = `${path}.salvage`
  let candidate = base
  for (let k = 1; existsSync(candidate); k++) candidate = `${base}-${k}`
  return candidate
}

function copyDurably(from: string, to: string): void {
  try {
    copyFileSync(from, to, fsConstants.COPYFILE_EXCL)
  } catch (error) {
    throw fromSystemError(error, to, 'create')
  }
  const fd = openSync(to, 'r')
  try {
    fdatasyncSync(fd, to)
  } finally {
    closeSync(fd)
  }
}

function result(sizeBefore: number, planned: Plan, salvaged: boolean, backup: string | null): SalvageResult {
  return {
    salvaged,
    sizeBefore,
    sizeAfter: planned.size,
    snapshotOffset: planned.snapshotOffset,
    updates: planned.updates,
    dropped: planned.dropped,
    backup,
  }
}

function checkOffset(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be a non-negative integer offset, got ${describeValue(value)}`)
  }
  return value
}

/**
 * Rewrites the state log at `path`, which no writer may have open, so that it opens again:
 * its latest readable snapshot at offset 0, then every readable update of that epoch, leaving
 * out damaged ranges, the entries at `skip`, and everything from `cutAt` on. A copy of the old
 * log is kept first (`backup`). When nothing needs leaving out, the log is not touched.
 * @param path - The state log, in a plain file or an AppendOnlyFile (told apart as on open).
 * @param options - What to leave out, the backup's path, `dryRun`.
 * @returns What was (or would be) kept and left out.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when a writer holds the log; ERR_AOF_NOT_FOUND;
 *   ERR_AOF_INVALID_ARGUMENT for an offset at which no entry starts; system codes.
 */
export async function salvageFile(path: string, given?: SalvageOptions): Promise<SalvageResult> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path must be a non-empty string')
  const options = optionsOf(given)
  const skipGiven: unknown = options.skip ?? []
  if (!Array.isArray(skipGiven)) throw invalidArgument(`skip must be an array of offsets, got ${describeValue(skipGiven)}`)
  const skip = new Set(skipGiven.map((offset) => checkOffset(offset, 'skip')))
  if (options.backup !== undefined && (typeof options.backup !== 'string' || options.backup.length === 0)) {
    throw invalidArgument(`backup must be a non-empty path, got ${describeValue(options.backup)}`)
  }
  const cutAt = options.cutAt === undefined ? Infinity : checkOffset(options.cutAt, 'cutAt')
  let appendOnly = options.appendOnlyFile
  const fd = openLocked(path, 'state log')
  try {
    appendOnly ??= isAppendOnlyFile(fd, path)
    if (appendOnly === false) {
      removeStaleCompaction(path)
      const sizeBefore = fstatSync(fd).size
      const planned = plan(new FileSource(fd, { path }), skip, cutAt)
      if (planned.dropped.length === 0 || options.dryRun === true) return result(sizeBefore, planned, false, null)
      const backup = options.backup ?? backupPath(path)
      copyDurably(path, backup)
      const prepared = await writeFileLog(planned.content, path)
      await installCompaction(prepared, () => undefined, () => closeSync(prepared.fd))
      return result(sizeBefore, planned, true, backup)
    }
  } finally {
    // An AppendOnlyFile takes its own lock below.
    closeSync(fd)
  }
  const openOptions: OpenOptions = appendOnly === true ? {} : appendOnly
  const manager = new Manager({ flushIntervalMs: 0 })
  try {
    const file = manager.open(path, withStateLogRecovery(openOptions))
    removeStaleCompaction(file.path)
    const sizeBefore = file.size
    const planned = plan(new AppendOnlyFileSource(file), skip, cutAt)
    if (planned.dropped.length === 0 || options.dryRun === true) return result(sizeBefore, planned, false, null)
    const backup = options.backup ?? backupPath(path)
    copyDurably(path, backup)
    const prepared = await writeAppendOnlyLog(file, path, planned.content, openOptions)
    await installCompaction(prepared, () => undefined, () => prepared.manager.close())
    return result(sizeBefore, planned, true, backup)
  } finally {
    await manager.close()
  }
}
