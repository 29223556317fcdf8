/**
 * What holds a state log on disk: a plain file, or an {@link AppendOnlyFile} (its data followed
 * by a MagicTail or MagicCheckpoint and allocated zeros, and a `-shm` sidecar). Opening one as
 * the other would break it (a plain writer cuts the magic number and the allocated space; an
 * AppendOnlyFile's recovery finds no magic number in a plain log), so the state layer looks
 * before it opens.
 * @module
 */
import { fstatSync, readSync } from 'node:fs'
import { MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL } from '../aof/magic.ts'
import { lastNonZero, readMagic } from '../aof/recovery.ts'
import { readSidecarFile } from '../aof/shm.ts'
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
 * True when the file open as `fd` at `path` is an AppendOnlyFile: a sidecar that belongs to
 * this very file (same inode and device: one left by another file at the path does not count),
 * or data whose last non-zero bytes are a MagicTail or MagicCheckpoint. A plain state log ends
 * with a record's data; it could end in those 8 bytes only by a 2^-64 chance per value.
 */
export function isAppendOnlyFile(fd: number, path: string): boolean {
  let stat
  try {
    stat = fstatSync(fd)
  } catch (error) {
    throw fromSystemError(error, path, 'stat')
  }
  const sidecar = readSidecarFile(path)
  if (sidecar !== null && sidecar.inode === stat.ino && sidecar.device === stat.dev) return true
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
