/**
 * What holds a state log on disk: a plain file, or an {@link AppendOnlyFile} (its data followed
 * by a MagicTail or MagicCheckpoint and allocated zeros, and a `-shm` sidecar). Opening one as
 * the other would break it (a plain writer cuts the magic number and the allocated space; an
 * AppendOnlyFile's recovery finds no magic number in a plain log), so the state layer looks
 * before it opens.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs'
import { MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL } from '../aof/magic.ts'
import type { OpenOptions } from '../aof/open-file.ts'
import { RecoveryKind, lastNonZero, readMagic, recoverWithMagic } from '../aof/recovery.ts'
import type { RecoveryResult } from '../aof/recovery.ts'
import type { Magic } from '../aof/magic.ts'
import { readSidecarFile } from '../aof/shm.ts'
import { fileIdentity, namesFile } from '../aof/sidecar-identity.ts'
import { invalidArgument } from '../arguments.ts'
import { fromSystemError } from '../errors.ts'

/** The bytes read per step of the backward scan. */
const CHUNK_SIZE = 1 << 20

/**
 * The end of the last non-zero byte of the file open as `fd` (0 when it holds only zeros), by
 * recovery's backward scan run on one chunk at a time.
 */
function usedEnd(fd: number, size: number, path: string): number {
  const chunk = new Uint8Array(Math.min(CHUNK_SIZE, Math.max(size, MAGIC_SIZE)))
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - chunk.length)
    let got: number
    try {
      got = readSync(fd, chunk, 0, end - start, start)
    } catch (error) {
      throw fromSystemError(error, path, 'read')
    }
    const last = lastNonZero(chunk, got)
    if (last >= 0) return start + last + 1
    end = start
  }
  return 0
}

/**
 * True when the file open as `fd` at `path` is an AppendOnlyFile: a sidecar that names this
 * very file (`namesFile`: one left by another file at the path does not count), or data whose last non-zero bytes are a MagicTail or MagicCheckpoint. A plain state log ends
 * with a record's data; it could end in those 8 bytes only by a 2^-64 chance per value.
 */
export function isAppendOnlyFile(fd: number, path: string): boolean {
  let stat
  try {
    stat = fstatSync(fd)
  } catch (error) {
    throw fromSystemError(error, path, 'stat')
  }
  // By name only, not by first bytes: a log damaged there is still refused as what it is.
  const page = readSidecarFile(path)
  if (page !== null && namesFile(page, fileIdentity(fd))) return true
  const end = usedEnd(fd, stat.size, path)
  if (end < MAGIC_SIZE) return false
  const magic = new Uint8Array(MAGIC_SIZE)
  try {
    readSync(fd, magic, 0, MAGIC_SIZE, end - MAGIC_SIZE)
  } catch (error) {
    throw fromSystemError(error, path, 'read')
  }
  const value = readMagic(magic, 0)
  return value === MAGIC_TAIL || value === MAGIC_CHECKPOINT
}

/**
 * Refuses to open the file at `path` as an AppendOnlyFile when it holds a plain state log (or
 * any other non-empty file that is not an AppendOnlyFile): the AppendOnlyFile's recovery would
 * find no magic number in it. A missing or empty file is fine (it is created).
 * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT.
 */
export function refuseUnlessAppendOnly(path: string): void {
  let fd: number
  try {
    // Non-blocking: opening a FIFO for reading would wait for a writer.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch {
    return
  }
  try {
    if (fstatSync(fd).size > 0 && !isAppendOnlyFile(fd, path)) {
      throw invalidArgument(`'${path}' holds a plain state log, not an append-only file: open it without the appendOnlyFile option`, path)
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * Recovery of an AppendOnlyFile that holds a state log: {@link recoverWithMagic}, except when no
 * magic number ends the data (a plain writer cut the end marker and the allocated space, or a
 * write was torn). The generic repair would then cut back to the last checkpoint — for a state
 * log, which writes none, to empty. Here the data is taken to end at its last non-zero byte and
 * the end marker is written there: nothing is cut. The state layer then reads the log itself,
 * and refuses a torn or damaged entry (`aof salvage` rewrites the log without it). A sidecar
 * the AppendOnlyFile trusts (a writer killed during this boot) still decides first.
 */
export function recoverStateLogFile(fileSize: number, bytes: Uint8Array, magic: Magic): RecoveryResult {
  const result = recoverWithMagic(fileSize, bytes, magic)
  if (result.outcome !== RecoveryKind.Corrupted) return result
  const end = lastNonZero(bytes, fileSize) + 1
  return { ...result, tail: end, checkpoint: result.checkpoint + MAGIC_SIZE <= end ? result.checkpoint : -1 }
}

/** `options` with {@link recoverStateLogFile} as the recovery, unless the caller chose one. */
export function withStateLogRecovery(options: OpenOptions): OpenOptions {
  if (options.recovery !== undefined) return options
  return { ...options, recovery: { fn: recoverStateLogFile, repair: true } }
}
