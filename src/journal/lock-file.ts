/**
 * Exclusive `flock` locks on small files of a journal directory: the writer's and each
 * consumer's. The kernel drops a lock with its process, so a crashed holder blocks nobody.
 * @module
 */
import { closeSync, ftruncateSync, writeSync } from 'node:fs'

import { fromSystemError } from '../errors.ts'
import { lockExclusive } from '../io/lock.ts'
import { openRegularFile } from '../io/regular-file.ts'

/**
 * Opens (creating) `path` and takes its exclusive lock without waiting, then writes this
 * process's pid into it.
 * @param held - The message when another holder has it.
 * @returns The descriptor holding the lock.
 * @throws {@link AofkitError} ERR_AOF_LOCKED when another holder, in any process, has it.
 */
export function lockFile(path: string, held: string): number {
  const fd = openRegularFile(path, 'create')
  try {
    lockExclusive(fd, path, undefined, held)
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
