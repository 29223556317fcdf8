/**
 * Opening a file the `aof` command was given, read-only, and telling what it is: an
 * append-only file (finished, live, or left by a writer that died) or a plain file, holding raw
 * bytes, a record log or a state log. The heuristic is documented in docs/CLI.md ("What the
 * file is"). Nothing here writes to the file or its sidecar, so a live writer is never
 * disturbed.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs'

import { FileState } from '../aof/file-state.ts'
import { SIZE_UPPER_MAX } from '../aof/geometry.ts'
import { Manager } from '../aof/manager.ts'
import { RecoveryReadOnly } from '../aof/open-file.ts'
import { RecoveryKind } from '../aof/recovery.ts'
import type { RecoveryResult } from '../aof/recovery.ts'
import { writerHolds } from '../aof/liveness.ts'
import { readOwnSidecar } from '../aof/shm.ts'
import { sameMount } from '../aof/sidecar-identity.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { BLOCK_SIZE } from '../log/format.ts'
import { LogReader } from '../log/log-reader.ts'
import { rewind } from '../log/rewind.ts'
import { findEntries } from '../log/scan.ts'
import { lastWholeEntryEnd } from '../log/torn-tail.ts'
import { FileSource } from '../log/sources.ts'
import type { LogSource } from '../log/sources.ts'
import { decodeStateEntry } from '../state/entry.ts'
import { usageError } from './output.ts'

/** What holds the data. */
export const Container = {
  /** An aofkit append-only file (magic numbers after the data, maybe a `-shm` sidecar). */
  AppendOnly: 'append-only file',
  /** Any other file: all of it is data. */
  Plain: 'plain file',
} as const
export type Container = (typeof Container)[keyof typeof Container]

/** What the data is. */
export const Content = {
  Empty: 'empty',
  Raw: 'raw bytes',
  RecordLog: 'record log',
  StateLog: 'state log',
} as const
export type Content = (typeof Content)[keyof typeof Content]

/** The life of an append-only file, as far as can be told without disturbing it. */
export const Life = {
  /** A writer has it open and is alive. */
  Live: 'live',
  /** Finished: ends with a MagicCheckpoint, read-only from now on. */
  Finished: 'finished',
  /** Ends with a MagicTail and no writer holds it: closed without finish(), reopenable. */
  Closed: 'closed, not finished',
  /** The sidecar names a writer that is gone while the file was open: killed or crashed. */
  WriterDied: 'writer died',
  /** No magic number ends the data: a torn or damaged tail. */
  Damaged: 'damaged tail',
  /** No data at all. */
  Empty: 'empty',
} as const
export type Life = (typeof Life)[keyof typeof Life]

/** What the `-shm` sidecar says, read without mapping or locking it. */
export interface SidecarInfo {
  writerPid: number
  writerAlive: boolean
  fileState: number
  committedSize: number
  lastCheckpoint: number
  allocatedSize: number
  /** The writer ran on the file system as it is mounted now (this boot, mount and device), so its committed size is exact. */
  sameMount: boolean
}

/** A file given to the command, opened read-only and classified. */
export interface Input {
  path: string
  /** The read-only descriptor (closed by {@link Input.close}). */
  fd: number
  /** Bytes of the file on disk. */
  fileSize: number
  container: Container
  content: Content
  /** Data bytes: what a reader sees (the committed size of a live file). */
  dataSize: number
  /** Append-only files only: their life, recovery by magic numbers, sidecar. */
  life: Life | null
  recovery: RecoveryResult | null
  sidecar: SidecarInfo | null
  /** End of the last non-zero byte of the file (where a damaged tail ends). */
  usedSize: number
  /**
   * A damaged append-only file holding a log: the end of its last entry that reads whole, past
   * what magic numbers keep (then also `dataSize`); null otherwise.
   */
  wholeLogEnd: number | null
  /** A record-log source over the data `[0, dataSize)`, read with pread. */
  source(): LogSource
  /** Reads `[begin, end)` of the file. */
  read(begin: number, end: number): Uint8Array
  /** Closes the descriptor. */
  close(): void
}

/** The sidecar of `path` if it was written for the file open as `fd` (`readOwnSidecar`), else null. */
function readSidecar(path: string, fd: number): SidecarInfo | null {
  const own = readOwnSidecar(path, fd)
  if (own === null) return null
  const { page, identity } = own
  const mounted = sameMount(page, identity)
  return {
    writerPid: page.writerPid,
    // Its writer holds the file's lock byte: a pid alone may have been reused.
    writerAlive: page.fileState === FileState.Opened && mounted && writerHolds(fd, page.writerPid),
    fileState: page.fileState,
    committedSize: page.committedSize,
    lastCheckpoint: page.lastCheckpoint,
    allocatedSize: page.allocatedSize,
    sameMount: mounted,
  }
}

/** Checks that `path` is a readable regular file, with the library's codes. */
export function checkReadable(path: string): void {
  let stat
  try {
    stat = statSync(path)
  } catch (error) {
    throw fromSystemError(error, path, 'stat')
  }
  if (stat.isDirectory()) throw new AofkitError(ErrorCode.IsDirectory, `'${path}' is a directory`, { path })
  if (!stat.isFile()) throw usageError(`'${path}' is not a regular file`)
  // As the library does: permissions are judged by the owner's mode bits, also for root.
  if ((stat.mode & 0o400) === 0) {
    throw new AofkitError(ErrorCode.ReadPermission, `file '${path}' has no read permission`, { path })
  }
}

/** Recovery by magic numbers through a read-only mapping (never modifies the file). */
function recoverReadOnly(path: string, manager: Manager): RecoveryResult {
  const file = manager.open(path, { recovery: RecoveryReadOnly })
  const result: RecoveryResult = { ...file.recovery }
  void file.close()
  return result
}

/** The last non-zero byte's end, found by reading backwards in 64 KiB steps. */
function usedEnd(fd: number, fileSize: number): number {
  const chunk = Buffer.alloc(64 * 1024)
  let end = fileSize
  while (end > 0) {
    const start = Math.max(0, end - chunk.length)
    const got = readSync(fd, chunk, 0, end - start, start)
    for (let k = got - 1; k >= 0; k--) if (chunk[k] !== 0) return start + k + 1
    end = start
  }
  return 0
}

/** Classifies the data in `source`: a state log, a record log, or raw bytes. */
export function classifyContent(source: LogSource): Content {
  if (source.size === 0) return Content.Empty
  // A log starts with a record at offset 0; a damaged start still leaves whole entries in its
  // first two blocks.
  let first = -1
  try {
    if (new LogReader(source).read() !== null) first = 0
  } catch {
    // damaged start: search below
  }
  if (first < 0) first = findEntries(source, 0, Math.min(source.size, 2 * BLOCK_SIZE))[0] ?? -1
  if (first < 0) return Content.Raw
  // A state log's first entry is a state entry of epoch 0, and its last one a state entry whose
  // epoch lies before it.
  try {
    const entry = new LogReader(source, { offset: first }).read()
    const decoded = entry === null ? null : decodeStateEntry(entry)
    if (decoded === null || decoded.epoch !== 0 || (first === 0 && entry !== null && entry.length < 9)) return Content.RecordLog
    const last = rewind(source, source.size)
    if (last !== null && last !== first) {
      const lastEntry = new LogReader(source, { offset: last }).read()
      const lastDecoded = lastEntry === null ? null : decodeStateEntry(lastEntry)
      if (lastDecoded !== null && !(lastDecoded.epoch <= last)) return Content.RecordLog
      if (lastEntry !== null && lastDecoded === null) return Content.RecordLog
    }
    return Content.StateLog
  } catch {
    return Content.RecordLog
  }
}

/**
 * Opens `path` read-only and classifies it. Throws ERR_AOF_NOT_FOUND, ERR_AOF_IS_DIRECTORY,
 * ERR_AOF_READ_PERMISSION (exit 2).
 */
export function openInput(path: string): Input {
  checkReadable(path)
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    throw fromSystemError(error, path, 'open')
  }
  try {
    return classify(path, fd)
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/** Bytes `[begin, end)` of the file open as `fd`; fewer where the file ends sooner. */
export function readRange(fd: number, begin: number, end: number): Buffer {
  const buffer = Buffer.allocUnsafe(Math.max(0, end - begin))
  let done = 0
  while (done < buffer.length) {
    const count = readSync(fd, buffer, done, buffer.length - done, begin + done)
    if (count === 0) break
    done += count
  }
  return buffer.subarray(0, done)
}

function classify(path: string, fd: number): Input {
  const stat = fstatSync(fd)
  const fileSize = stat.size
  const sidecar = readSidecar(path, fd)
  let container: Container = Container.Plain
  let life: Life | null = null
  let recovery: RecoveryResult | null = null
  let dataSize = fileSize
  let wholeLogEnd: number | null = null
  const usedSize = usedEnd(fd, fileSize)
  // A file larger than any mapping this Node.js can view cannot be an append-only file (no
  // writer could have opened it): it is read as a plain file, with pread, never mapped.
  if (fileSize > 0 && fileSize <= SIZE_UPPER_MAX) {
    const manager = new Manager({ flushIntervalMs: 0 })
    recovery = recoverReadOnly(path, manager)
    void manager.close()
    const magicEnds = recovery.outcome === RecoveryKind.Tail || recovery.outcome === RecoveryKind.Checkpoint
    // Zeros after the data in whole pages: what fallocate leaves ahead of a writer.
    const allocatedZeros = usedSize + 8 <= fileSize && fileSize % 4096 === 0
    const isAof = sidecar !== null || magicEnds || recovery.checkpoint >= 0 || allocatedZeros || recovery.outcome === RecoveryKind.Empty
    if (isAof) {
      container = Container.AppendOnly
      dataSize = recovery.tail
      if (sidecar?.writerAlive === true) {
        life = Life.Live
        dataSize = sidecar.committedSize
      } else if (sidecar !== null && sidecar.fileState === FileState.Opened) {
        life = Life.WriterDied
        // What the next writer's open keeps: the committed size, when it can be trusted.
        if (sidecar.sameMount && sidecar.committedSize <= fileSize - 8) dataSize = sidecar.committedSize
      } else if (recovery.outcome === RecoveryKind.Checkpoint) life = Life.Finished
      else if (recovery.outcome === RecoveryKind.Tail) life = Life.Closed
      else if (recovery.outcome === RecoveryKind.Empty) life = Life.Empty
      else {
        life = Life.Damaged
        // Magic numbers alone keep the data up to the last checkpoint, or nothing. When the
        // bytes hold a log, every entry that reads whole before the damage is data too: the
        // repair (aof recover) keeps it.
        const logEnd = lastWholeEntryEnd(new FileSource(fd, { size: usedSize, path }))
        if (logEnd !== null && logEnd > dataSize) {
          dataSize = logEnd
          wholeLogEnd = logEnd
        }
      }
    } else {
      recovery = null
    }
  }
  const read = (begin: number, end: number): Uint8Array => readRange(fd, begin, end)
  const source = (): LogSource => new FileSource(fd, { size: dataSize, path })
  const content = classifyContent(source())
  return {
    path,
    fd,
    fileSize,
    container,
    content,
    dataSize,
    life,
    recovery,
    sidecar,
    usedSize,
    wholeLogEnd,
    source,
    read,
    close: () => closeSync(fd),
  }
}

/** The RecoveryKind's name: `Tail`, `Checkpoint`… */
export function recoveryName(outcome: number): string {
  return Object.entries(RecoveryKind).find(([, value]) => value === outcome)?.[0] ?? String(outcome)
}
