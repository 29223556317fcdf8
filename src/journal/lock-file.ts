/**
 * Exclusive `flock` locks on small files of a journal directory: the writer's and each
 * consumer's. The kernel drops a lock with its process, so a crashed holder blocks nobody.
 * @module
 */
import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'

/**
 * Opens (creating) `path` and takes its exclusive lock without waiting, then writes this
 * process's pid into it.
 * @returns The descriptor holding the lock.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when another holder, in any process, has it.
 */
export function lockFile(path: string, what: string): number {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644)
  } catch (error) {
    throw fromSystemError(error, path, 'open')
  }
  try {
    native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
  } catch (error) {
    closeSync(fd)
    const code = (error as { code?: unknown }).code
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
      throw new AofkitError(ErrorCode.Locked, `${what} is held by another instance (lock '${path}')`, { path, cause: error })
    }
    throw fromSystemError(error, path, 'flock')
  }
  try {
    ftruncateSync(fd, 0)
    writeSync(fd, `${process.pid}\n`, 0)
  } catch (error) {
    closeSync(fd)
    throw fromSystemError(error, path, 'write')
  }
  return fd
}

/** Releases a lock taken by {@link lockFile} (closing its descriptor drops it). */
export function unlockFile(fd: number): void {
  closeSync(fd)
}
