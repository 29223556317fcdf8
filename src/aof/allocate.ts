/**
 * Allocating a data file's blocks: fallocate where the file system has it; where it does not
 * (ext2, ext3 without extents, ramfs), zeros written past the file's end, as glibc's
 * posix_fallocate does. Either way the blocks are real, so a full disk is an ENOSPC on the
 * call that needed the room, never a SIGBUS on a later store into the mapping.
 *
 * With `zeroFill`, zeros are also written over the whole range, which brings its pages into the
 * page cache in large folios: a writer's stores into them then cost a few page faults per
 * folio, where the pages of a bare fallocated range fault one by one, each zeroed on the way
 * (docs/PERFORMANCE.md, "Growth ahead of the writer"). Such zeros overwrite whatever is there:
 * only a range that nobody writes to until the call has returned may be zero-filled.
 * @module
 */
import * as native from '../native/binding.ts'
import type { AllocationHandle } from '../native/binding.ts'

/** Allocates `[offset, offset + length)` of `fd`, extending the file. Throws the system error (ENOSPC, ...) as raised. */
export function allocate(fd: number, offset: number, length: number, zeroFill = false): void {
  native.allocate(fd, offset, length, zeroFill)
}

/** An {@link allocate} running on the thread pool. */
export class BackgroundAllocation {
  /** Settles when the allocation has returned. */
  readonly done: Promise<void>
  readonly #handle: AllocationHandle

  constructor(fd: number, offset: number, length: number, zeroFill: boolean) {
    const { done, handle } = native.allocateAsync(fd, offset, length, zeroFill)
    this.done = done.then(() => undefined)
    this.#handle = handle
  }

  /** Blocks this thread until the allocation has returned; throws its failure. */
  wait(): void {
    native.waitAllocation(this.#handle)
  }
}
