/**
 * The single-writer lock: an exclusive, non-blocking `flock` on an open file. A lock another
 * process (or another descriptor in this one) holds is ERR_AOF_LOCKED, here and nowhere else;
 * every other failure keeps its system code.
 * @module
 */
import { closeSync } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { openRegularFile } from './regular-file.ts'

function heldElsewhere(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'EWOULDBLOCK' || code === 'EAGAIN'
}

/**
 * Takes the exclusive lock on `fd` without waiting.
 * @param fd - An open descriptor of the file.
 * @param path - The file's path, for messages.
 * @param what - What the file is, for the message (default: `'file'`).
 * @param held - The whole message when the lock is held (default: that the file is locked by
 *   another writer).
 * @throws {@link AofkitError} ERR_AOF_LOCKED when another descriptor holds the lock; ERR_AOF_IO
 *   (or another system code) when flock fails otherwise.
 */
export function lockExclusive(fd: number, path: string, what = 'file', held = `${what} '${path}' is locked by another writer`): void {
  try {
    native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
  } catch (error) {
    if (heldElsewhere(error)) {
      throw new AofkitError(ErrorCode.Locked, held, { path, cause: error })
    }
    throw fromSystemError(error, path, 'lock')
  }
}

/**
 * Opens `path` for writing (creating it with `create`), checks that it is a regular file and
 * takes the single-writer lock on it, as a repair, a rewrite or a state writer does before it
 * changes a file no other writer may hold: the descriptor, which the caller closes.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when a writer holds the file; ERR_AOF_IS_DIRECTORY,
 *   ERR_AOF_NOT_REGULAR_FILE; the open's codes (ERR_AOF_NOT_FOUND, ERR_AOF_READ_ONLY, ...).
 */
export function openLocked(path: string, what: string, create = false): number {
  const fd = openRegularFile(path, create ? 'create' : 'write')
  try {
    lockExclusive(fd, path, what)
  } catch (error) {
    closeSync(fd)
    throw error
  }
  return fd
}

/**
 * Takes the exclusive lock on `fd` without waiting, when it is free.
 * @returns False when another descriptor holds it.
 * @throws {@link AofkitError} system codes when flock fails otherwise.
 */
export function tryLockExclusive(fd: number, path: string): boolean {
  try {
    native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
    return true
  } catch (error) {
    if (heldElsewhere(error)) return false
    throw fromSystemError(error, path, 'lock')
  }
}

/**
 * Releases the lock taken on `fd` (closing the descriptor releases it too).
 * @throws {@link AofkitError} system codes.
 */
export function unlock(fd: number, path: string): void {
  try {
    native.flock(fd, native.lock.unlock)
  } catch (error) {
    throw fromSystemError(error, path, 'lock')
  }
}

/**
 * True when a writer holds the lock of the file at `path` now: takes the lock and releases it
 * at once on a descriptor of its own (read-only; flock needs no write access).
 * @throws {@link AofkitError} ERR_AOF_NOT_FOUND and other system codes when the file cannot be
 *   opened; ERR_AOF_IS_DIRECTORY, ERR_AOF_NOT_REGULAR_FILE.
 */
export function isLocked(path: string): boolean {
  const fd = openRegularFile(path)
  try {
    return !tryLockExclusive(fd, path)
  } finally {
    closeSync(fd)
  }
}
