/**
 * The one rule for paths that must be regular files: a directory is ERR_AOF_IS_DIRECTORY; a
 * FIFO, a device or a socket is ERR_AOF_NOT_REGULAR_FILE, found without blocking (a FIFO is
 * opened `O_NONBLOCK`, so the open cannot wait for a peer) and without reading from it.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync } from 'node:fs'
import type { Stats } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'

/**
 * Refuses what `stat` says is not a regular file.
 * @throws {@link AofkitError} ERR_AOF_IS_DIRECTORY, ERR_AOF_NOT_REGULAR_FILE.
 */
export function checkRegularFile(path: string, stat: Stats): void {
  if (stat.isDirectory()) throw new AofkitError(ErrorCode.IsDirectory, `path '${path}' is a directory`, { path })
  if (!stat.isFile()) {
    throw new AofkitError(ErrorCode.NotRegularFile, `path '${path}' is not a regular file (a FIFO, device or socket)`, { path })
  }
}

/** How {@link openRegularFile} opens. */
export type Access = 'read' | 'write' | 'create'

const FLAGS: Readonly<Record<Access, number>> = {
  read: fsConstants.O_RDONLY,
  write: fsConstants.O_RDWR,
  create: fsConstants.O_RDWR | fsConstants.O_CREAT,
}

/**
 * Opens `path` (`O_NONBLOCK`, which does nothing to a regular file) and checks that it is a
 * regular file: read-only, for reading and writing, or creating it if missing (mode 0644).
 * @returns The descriptor, which the caller closes.
 * @throws {@link AofkitError} ERR_AOF_IS_DIRECTORY, ERR_AOF_NOT_REGULAR_FILE, or the system
 *   code of the failed open (ERR_AOF_NOT_FOUND, ERR_AOF_READ_PERMISSION, ERR_AOF_READ_ONLY...).
 */
export function openRegularFile(path: string, access: Access = 'read'): number {
  let fd: number
  try {
    fd = openSync(path, FLAGS[access] | fsConstants.O_NONBLOCK, 0o644)
  } catch (error) {
    throw fromSystemError(error, path, access === 'read' ? 'open' : access === 'write' ? 'openForWrite' : 'create')
  }
  try {
    checkRegularFile(path, fstatSync(fd))
    return fd
  } catch (error) {
    closeSync(fd)
    throw error
  }
}
