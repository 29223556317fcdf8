/**
 * Growth: how an open file stays allocated ahead of its writer. The file grows by real
 * allocation (fallocate), on the libuv pool ahead of the writer, and the pages it will write
 * next are prefaulted there too (MADV_POPULATE_WRITE), so the writer's stores find them mapped.
 * A writer that catches up with the background growth doubles the look-ahead, up to
 * {@link AHEAD_MAX}.
 * @module
 */
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { allocate, allocateAsync } from './allocate.ts'
import { SIZE_UPPER_MAX } from './geometry.ts'
import type { Geometry } from './geometry.ts'
import { MAGIC_SIZE } from './magic.ts'
import type { FileResources } from './open-file.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'

/** Largest look-ahead of background growth. */
export const AHEAD_MAX = 256 * 1024 * 1024

/** The allocation of one open, file-backed append-only file. */
export class Growth {
  readonly #fd: number
  readonly #path: () => string
  readonly #geometry: Geometry
  readonly #mapping: ArrayBuffer | SharedArrayBuffer
  readonly #stats: StatsRecorder
  readonly #publishAllocated: (size: number) => void
  /** Bytes of the file allocated so far. */
  #allocated: number
  /** Once stopped (finish, close), nothing grows any more. */
  #stopped = false
  /** Background growth in flight. */
  #growing: Promise<void> | null = null
  /** Why the last background growth failed, until a non-blocking write reports it. */
  #failure: AofkitError | null = null
  /** Prefault jobs on the thread pool; the mapping must outlive them. */
  readonly #prefaults = new Set<Promise<void>>()
  #aheadBytes: number
  /**
   * The writer starts background growth once its data comes within this many bytes of the
   * allocated end.
   */
  lowWater: number

  /**
   * @param file - What open found: descriptor, geometry, mapping, allocated size.
   * @param growable - False for a file that never grows: memory-only, finished or read-only.
   * @param path - The path errors name (it changes when the file is renamed).
   * @param publishAllocated - Publishes a new allocated size (the sidecar's field).
   */
  constructor(file: FileResources, stats: StatsRecorder, growable: boolean, path: () => string, publishAllocated: (size: number) => void) {
    this.#fd = file.fd
    this.#path = path
    this.#geometry = file.geometry
    this.#mapping = file.mapping
    this.#stats = stats
    this.#publishAllocated = publishAllocated
    this.#allocated = file.allocated
    this.#stopped = !growable
    this.#aheadBytes = Math.min(this.#geometry.growthStep, this.#geometry.sizeUpper)
    this.lowWater = this.#aheadBytes / 2
  }

  /** Bytes of the file allocated so far. */
  get allocated(): number {
    return this.#allocated
  }

  /** True while background growth runs. */
  get growing(): boolean {
    return this.#growing !== null
  }

  /**
   * Ensures `needed` bytes are allocated, or throws FULL / NO_SPACE / WOULD_BLOCK. `size` is
   * the data size now (where background growth looks ahead from).
   */
  makeRoom(needed: number, size: number, blocking: boolean): void {
    const geometry = this.#geometry
    if (needed > geometry.sizeUpper) throw this.#full(needed)
    // The writer caught up with background growth: look further ahead from now on.
    if (this.#aheadBytes < AHEAD_MAX) {
      this.#aheadBytes = Math.min(this.#aheadBytes * 2, AHEAD_MAX, geometry.sizeUpper)
      this.lowWater = this.#aheadBytes / 2
    }
    if (!blocking) {
      // A background growth that failed (a full disk, for one) is this write's answer, once;
      // the next call tries to grow again, for the space may have been freed meanwhile.
      const failure = this.#failure
      this.#failure = null
      if (failure !== null && !this.growing) throw failure
      this.growAhead(size, needed)
      throw new AofkitError(ErrorCode.WouldBlock, `file '${this.#path()}' must grow before this write`, {
        path: this.#path(),
      })
    }
    const from = this.#allocated
    // As far ahead as background growth would go: one synchronous fallocate per catch-up.
    const target = Math.max(geometry.next(needed), this.#aheadTarget(from, size))
    const stats = this.#stats
    const startNs = nowNs()
    // A file cut under the writer would be extended again with a hole of zeros: count its lost
    // pages first (sync() then fails with ERR_AOF_REPLACED).
    this.#fitMapping()
    try {
      allocate(this.#fd, from, target - from)
    } catch (error) {
      // The step does not fit: try just what this write needs before giving up.
      const minimal = Math.min(Math.ceil(needed / geometry.pageSize) * geometry.pageSize, target)
      try {
        if (minimal >= target) throw error
        allocate(this.#fd, from, minimal - from)
        this.#setAllocated(minimal)
        stats.record(Operation.truncate, startNs, true)
        return
      } catch (retryError) {
        stats.record(Operation.truncate, startNs, false)
        throw fromSystemError(retryError, this.#path(), 'allocate')
      }
    }
    stats.record(Operation.truncate, startNs, true)
    this.#setAllocated(target)
    // A writer in a synchronous burst never lets background growth finish: fault the new pages
    // in on the thread pool now, while it writes, so its stores do not page-fault one by one.
    void this.prefault(from, target)
  }

  /**
   * Starts background growth (and prefaulting) so that the writer, at `size`, stays ahead. A
   * non-blocking write that must wait for it says how much it `needs`: if the whole step does
   * not fit on the disk, growth falls back to that, as a blocking write does.
   */
  growAhead(size: number, needs = 0): void {
    if (this.#growing !== null || this.#stopped) return
    const from = this.#allocated
    const target = this.#aheadTarget(from, size)
    if (target <= from) return
    const pageSize = this.#geometry.pageSize
    const minimal = Math.min(Math.ceil(needs / pageSize) * pageSize, target)
    this.#growing = this.#grow(from, target, minimal).finally(() => {
      this.#growing = null
    })
  }

  /**
   * Touches the pages of `[from, to)` on the thread pool (MADV_POPULATE_WRITE), not on the main
   * thread, so the writer's stores find them mapped. {@link idle} waits for it.
   */
  prefault(from: number, to: number): Promise<void> {
    const populate = native.advice.populateWrite
    const pageSize = this.#geometry.pageSize
    const begin = Math.floor(from / pageSize) * pageSize
    if (populate < 0 || this.#fd < 0 || to <= begin) return Promise.resolve()
    const job = native.madviseAsync(this.#mapping as ArrayBuffer, begin, to - begin, populate).then(
      () => undefined,
      () => undefined,
    )
    this.#prefaults.add(job)
    void job.then(() => this.#prefaults.delete(job))
    return job
  }

  /**
   * Stops growing (the file is finishing or closing), at once, and resolves once no job is in
   * flight.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#growing
    await Promise.all(this.#prefaults)
  }

  /**
   * The file was cut to `size` (finish): the allocation is that, whether smaller or larger.
   * The caller publishes it.
   */
  truncatedTo(size: number): void {
    this.#stats.add('activeFileSize', size - this.#allocated)
    this.#allocated = size
    // What the file no longer has reads as zeros, not SIGBUS (a chunk posted to a worker copies it).
    if (!(this.#mapping instanceof SharedArrayBuffer)) native.fitMapping(this.#mapping, this.#fd, true)
  }

  /** ERR_AOF_FULL, saying what to do about it. */
  #full(needed: number): AofkitError {
    const upper = this.#geometry.sizeUpper
    const advice =
      this.#fd < 0
        ? 'a memory-only file never grows: open a larger one'
        : upper >= SIZE_UPPER_MAX
          ? `that is the largest mapping this Node.js can view: go on in a new file`
          : `reopen it with a larger geometry.sizeUpper (up to ${SIZE_UPPER_MAX}) to write more; its data stays as it is`
    return new AofkitError(ErrorCode.Full, `file '${this.#path()}' is full: ${needed} bytes needed, geometry.sizeUpper is ${upper}; ${advice}`, {
      path: this.#path(),
    })
  }

  #setAllocated(size: number): void {
    if (size <= this.#allocated) return
    this.#stats.add('activeFileSize', size - this.#allocated)
    this.#allocated = size
    // The reservation past the allocation reads as zeros: map the file over what it now has.
    this.#fitMapping()
    this.#publishAllocated(size)
  }

  #fitMapping(): void {
    if (!(this.#mapping instanceof SharedArrayBuffer)) native.fitMapping(this.#mapping, this.#fd)
  }

  async #grow(from: number, target: number, minimal: number): Promise<void> {
    // Called by growAhead only when target > from.
    const stats = this.#stats
    const startNs = nowNs()
    let end = target
    try {
      this.#fitMapping() // counts what a cut under the writer took, as #makeRoom does
      try {
        await allocateAsync(this.#fd, from, target - from)
      } catch (error) {
        // The step does not fit: try just what the waiting write needs before giving up.
        if (minimal <= from || minimal >= target) throw error
        end = minimal
        await allocateAsync(this.#fd, from, minimal - from)
      }
      stats.record(Operation.truncate, startNs, true)
      this.#failure = null
      if (!this.#stopped) this.#setAllocated(end)
    } catch (error) {
      stats.record(Operation.truncate, startNs, false)
      // When even what a waiting write needs did not fit, that write's next try reports it. A
      // look-ahead nobody waits for yet fails quietly: the write that needs the room tries
      // again with what it needs, and a blocking write meets the condition itself.
      if (!this.#stopped && minimal > from) this.#failure = fromSystemError(error, this.#path(), 'allocate')
      return
    }
    if (this.#stopped) return
    await this.prefault(from, end)
  }

  /** Where growth ahead of a writer at `size` ends: `aheadBytes` past the data, in geometry steps. */
  #aheadTarget(from: number, size: number): number {
    const geometry = this.#geometry
    const want = Math.min(geometry.sizeUpper, size + MAGIC_SIZE + this.#aheadBytes)
    let target = from
    while (target < want) {
      const next = geometry.next(target)
      if (next <= target) break
      target = next
    }
    return target
  }
}
