/**
 * Allocating a data file's blocks: fallocate where the file system has it; where it does not
 * (ext2, ext3 without extents, ramfs), zeros written past the file's end, as glibc's
 * posix_fallocate does. Either way the blocks are real, so a full disk is an ENOSPC on the
 * call that needed the room, never a SIGBUS on a later store into the mapping.
 * @module
 */
import { fstatSync, write, writeSync } from 'node:fs'

import * as native from '../native/binding.ts'

/** Zeros written per call by the fallback. */
const CHUNK = 1 << 20
let zeros: Uint8Array | null = null

function zeroChunk(): Uint8Array {
  zeros ??= new Uint8Array(CHUNK)
  return zeros
}

/** Whether fallocate failed because the file system does not have it. */
function unsupported(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return code === 'ENOTSUP' || code === 'EOPNOTSUPP'
}

/** The part of `[offset, offset + length)` past the file's current end, which zeros fill. */
function pastEnd(fd: number, offset: number, length: number): { begin: number; end: number } {
  const size = fstatSync(fd).size
  return { begin: Math.max(offset, size), end: offset + length }
}

/**
 * Allocates `[offset, offset + length)` of `fd`, extending the file. Where the file system
 * has no fallocate, writes zeros to the part past the file's end (blocks before it are left
 * as they are). Throws the system error (ENOSPC, ...) as raised.
 */
export function allocate(fd: number, offset: number, length: number): void {
  try {
    native.fallocate(fd, offset, length)
  } catch (error) {
    if (!unsupported(error)) throw error
    const { begin, end } = pastEnd(fd, offset, length)
    for (let at = begin; at < end; ) at += writeSync(fd, zeroChunk(), 0, Math.min(CHUNK, end - at), at)
  }
}

/** {@link allocate} on the thread pool. */
export async function allocateAsync(fd: number, offset: number, length: number): Promise<void> {
  try {
    await native.fallocateAsync(fd, offset, length)
  } catch (error) {
    if (!unsupported(error)) throw error
    const { begin, end } = pastEnd(fd, offset, length)
    for (let at = begin; at < end; ) {
      at += await new Promise<number>((resolve, reject) => {
        write(fd, zeroChunk(), 0, Math.min(CHUNK, end - at), at, (failure, written) => (failure === null ? resolve(written) : reject(failure)))
      })
    }
  }
}
