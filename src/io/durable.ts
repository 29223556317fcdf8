/**
 * Making file changes durable: fdatasync of a file's data, a durable truncate, and a rename
 * made durable by an fsync of its directory. Each failure is an {@link AofkitError} with the
 * system error as `cause`.
 * @module
 */
import { renameSync } from 'node:fs'
import { open as openAsync } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'

/**
 * fdatasync of `fd`, on the calling thread (it blocks the event loop: for repairs and opens).
 * @throws {@link AofkitError} ERR_AOF_IO and other system codes.
 */
export function fdatasyncSync(fd: number, path?: string): void {
  try {
    native.fdatasync(fd)
  } catch (error) {
    throw fromSystemError(error, path, 'sync')
  }
}

/**
 * fdatasync of `fd` on the libuv pool, leaving the event loop free.
 * @throws {@link AofkitError} (as a rejection) ERR_AOF_IO and other system codes.
 */
export async function fdatasyncAsync(fd: number, path?: string): Promise<void> {
  try {
    await native.fdatasyncAsync(fd)
  } catch (error) {
    throw fromSystemError(error, path, 'sync')
  }
}

/**
 * Cuts the file open as `fd` to `size` bytes and makes the cut durable before returning.
 * @throws {@link AofkitError} system codes.
 */
export function truncateDurably(fd: number, size: number, path?: string): void {
  try {
    native.ftruncate(fd, size)
  } catch (error) {
    throw fromSystemError(error, path, 'truncate')
  }
  fdatasyncSync(fd, path)
}

/**
 * Renames `from` to `to` (atomically replacing `to`). Not durable by itself: follow it with
 * {@link syncDirectory} of the directory, or use {@link renameDurably}.
 * @throws {@link AofkitError} system codes.
 */
export function rename(from: string, to: string): void {
  try {
    renameSync(from, to)
  } catch (error) {
    throw fromSystemError(error, from, 'rename')
  }
}

/**
 * Makes the renames and creations in `directory` durable (an fsync of the directory).
 * @throws {@link AofkitError} (as a rejection) system codes.
 */
export async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await openAsync(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw fromSystemError(error, directory, 'sync')
  }
}

/**
 * Renames `from` to `to` and fsyncs the directory of `to`: once it resolves, the rename
 * survives a power loss.
 * @throws {@link AofkitError} (as a rejection) system codes.
 */
export async function renameDurably(from: string, to: string): Promise<void> {
  rename(from, to)
  await syncDirectory(dirname(to))
}
