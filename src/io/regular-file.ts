/**
 * Opening a file for reading that must be a regular file: without blocking on a FIFO put at
 * the path, and refusing a FIFO, device or socket with a code instead of reading from it.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'

/**
 * Opens `path` read-only (`O_NONBLOCK`, so a FIFO cannot block the open) and checks that it
 * is a regular file.
 * @throws {@link AofkitError} ERR_AOF_IS_DIRECTORY, ERR_AOF_NOT_REGULAR_FILE, or the system
 *   code of the failed open.
 */
export function openRegularFile(path: string): number {
  let fd: number
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch (error) {
    throw fromSystemError(error, path, 'open')
  }
  try {
    const stat = fstatSync(fd)
    if (stat.isDirectory()) throw new AofkitError(ErrorCode.IsDirectory, `path '${path}' is a directory`, { path })
    if (!stat.isFile()) {
      throw new AofkitError(ErrorCode.NotRegularFile, `path '${path}' is not a regular file (a FIFO, device or socket)`, { path })
    }
    return fd
  } catch (error) {
    closeSync(fd)
    throw error
  }
}
