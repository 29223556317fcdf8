/**
 * Growth: how an open file stays allocated ahead of its writer. The file grows by real
 * allocation (fallocate), on the libuv pool ahead of the writer, and the pages it will write
 * next are prefaulted there too (MADV_POPULATE_WRITE), so the writer's stores find them mapped.
 * A writer that catches up with the background growth doubles the look-ahead, up to
 * {@link AHEAD_MAX}.
 *
 * Until the file is first synced, growth also writes zeros over what it allocates, which
 * brings the pages into the page cache so that the writer's stores find them (a range nobody
 * writes to yet: the writer waits for growth in flight before it allocates beside it). The
 * pages ahead of the writer are also prefaulted ({@link Prefault}), asked for from
 * {@link Growth.advance}.
 * @module
 */
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { BackgroundAllocation, allocate } from './allocate.ts'
import { SIZE_UPPER_MAX } from './geometry.ts'
import type { Geometry } from './geometry.ts'
import { MAGIC_SIZE } from './magic.ts'
import type { FileResources } from './open-file.ts'
import { Prefault } from './prefault.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'

/** Largest look-ahead of background growth. */
export const AHEAD_MAX = 256 * 1024 * 1024
/**
 * How far ahead growth looks while it zero-fills, and the largest growth step it zero-fills
 * for: the first sync writes back the zeros ahead of the writer, as it does pages prefaulted
 * ahead of a writer as far as growth looks ahead.
 */
export const ZERO_FILL_MAX = 8 * 1024 * 1024

/**
 * File systems whose fallocate hands out the pages themselves (tmpfs), where zeros written
 * over them only cost a copy: their growth is prefaulted instead.
 */
const TMPFS_MAGIC = 0x01021994

/** Background growth in flight. */
interface Growing {
  readonly allocation: BackgroundAllocation
  readonly from: number
  readonly end: number
  /** What a waiting non-blocking write needs, tried alone if the whole step does not fit. */
  readonly minimal: number
  readonly startNs: number
  /** Its result was taken (by the event loop, or by the writer waiting for it). */
  settled: boolean
}

/** The allocation of one open, file-backed append-only file. */
export class Growth {
  readonly #fd: number
  readonly #path: () => string
  readonly #geometry: Geometry
  readonly #mapping: ArrayBuffer | SharedArrayBuffer
  readonly #prefault: Prefault
  readonly #stats: StatsRecorder
  readonly #publishAllocated: (size: number) => void
  /** Bytes of the file allocated so far. */
  #allocated: number
  /** Once stopped (finish, close), nothing grows any more. */
  #stopped = false
  /** Background growth in flight. */
  #growing: Growing | null = null
  /** Why the last background growth failed, until a non-blocking write reports it. */
  #failure: AofkitError | null = null
  #aheadBytes: number
  /**
   * The writer starts background growth once its data comes within this many bytes of the
   * allocated end.
   */
  lowWater: number
  /** The committed data size now. */
  readonly #size: () => number
  /**
   * The writer calls {@link advance} once its data reaches this size. A double from the start,
   * as it comes to hold Infinity: a field that starts as a small integer changes the object's
   * shape when it first does, and the writer's optimized code is thrown away.
   */
  nextCheck = Infinity
  /**
   * Background growth found a hole in what the writer committed: the file was cut while the
   * growth's fallocate was on its way, and that fallocate extended it again past the cut, so
   * no store faults there and the fault count does not tell. sync() then fails.
   */
  lost = false
  /** The data size when the file was opened: what lies before it is not looked at for holes. */
  readonly #openedSize: number
  /**
   * Whether growth may write zeros over what it allocates until the first sync: not on a
   * tmpfs, nor in growth steps larger than {@link ZERO_FILL_MAX}.
   */
  readonly #zeroFillable: boolean

  /**
   * @param file - What open found: descriptor, geometry, mapping, allocated size.
   * @param growable - False for a file that never grows: memory-only, finished or read-only.
   * @param path - The path errors name (it changes when the file is renamed).
   * @param publishAllocated - Publishes a new allocated size (the sidecar's field).
   * @param size - The committed data size now.
   */
  constructor(
    file: FileResources,
    stats: StatsRecorder,
    growable: boolean,
    path: () => string,
    publishAllocated: (size: number) => void,
    size: () => number,
  ) {
    this.#fd = file.fd
    this.#size = size
    this.#prefault = new Prefault(file.fd, file.mapping, file.geometry.pageSize, file.size)
    this.#openedSize = file.size
    this.#path = path
    this.#geometry = file.geometry
    this.#mapping = file.mapping
    this.#stats = stats
    this.#publishAllocated = publishAllocated
    this.#allocated = file.allocated
    this.#stopped = !growable
    this.#zeroFillable = growable && file.geometry.growthStep <= ZERO_FILL_MAX && native.fileSystemType(file.fd) !== TMPFS_MAGIC
    this.#aheadBytes = Math.min(this.#geometry.growthStep, this.#geometry.sizeUpper)
    this.lowWater = this.#aheadBytes / 2
    this.#setCheck()
  }

  /**
   * The writer's data reached {@link nextCheck}: starts growth when the allocation runs low,
   * and hands the pool the next pages to prefault. Growth started in the background that has
   * not landed by the time half the low-water room is used up is done here, synchronously (a
   * writer in a synchronous loop never lets its completion run); its fallocate reserves extents
   * and takes tens of microseconds. Not for a non-blocking write (`blocking` false), which
   * never waits for the disk.
   */
  advance(size: number, blocking = true): void {
    if (this.#stopped) {
      this.nextCheck = Infinity
      return
    }
    if (size + this.lowWater > this.#allocated) {
      if (this.#growing === null) this.growAhead(size)
      else if (blocking && size + this.lowWater / 2 > this.#allocated) this.#growNow(size)
    }
    this.#prefaultAhead(size)
    this.#setCheck()
  }

  /**
   * A sync covering `covered` bytes is about to write the file back: every page dirty so far,
   * the zeros prefaulted ahead of the writer included, is written and write-protected. Returns
   * the range to prefault again once it has (what the writer is expected to write before its
   * next sync), or null.
   */
  syncing(covered: number): { begin: number; end: number } | null {
    const refault = this.#prefault.syncing(covered, this.#size(), this.#allocated, this.#aheadBytes, this.#stopped)
    this.#setCheck()
    return refault
  }

  /** Bytes of the file allocated so far. */
  get allocated(): number {
    return this.#allocated
  }

  /** True while background growth runs (or has returned and its result was not taken yet). */
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
    this.#lookFurther()
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
    // Growth in flight allocates right where this would: take its room first.
    this.#awaitGrowing()
    if (needed <= this.#allocated) {
      this.#setCheck()
      return
    }
    const from = this.#allocated
    // As far ahead as background growth would go: one synchronous fallocate per catch-up.
    const target = Math.max(geometry.next(needed), this.#aheadTarget(from, size))
    const zeroFill = this.#zeroFills()
    const stats = this.#stats
    const startNs = nowNs()
    // A file cut under the writer would be extended again with a hole of zeros: count its lost
    // pages first (sync() then fails with ERR_AOF_REPLACED).
    this.#fitMapping()
    try {
      allocate(this.#fd, from, target - from, zeroFill)
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
    this.#prefaultAhead(size)
    this.#setCheck()
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
    this.#startGrowing(from, target, minimal, nowNs())
    this.#setCheck()
  }

  /**
   * Stops growing (the file is finishing or closing), at once, and resolves once no job is in
   * flight.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    this.nextCheck = Infinity
    // Its result is taken before this resumes (the handler was attached first); a retry of
    // what a waiting write needs may follow it.
    for (let growing = this.#growing; growing !== null; growing = this.#growing) await growing.allocation.done.catch(() => undefined)
    await this.#prefault.settled()
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
          ? `that is the largest mapping this Node.js can view: go on in a new file, or use a Journal, which has no size limit`
          : `reopen it with a larger geometry.sizeUpper (up to ${SIZE_UPPER_MAX}) to write more, its data stays as it is; or use a Journal, which has no size limit`
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
    this.#setCheck()
  }

  /** The writer caught up with background growth: look further ahead from now on. */
  #lookFurther(): void {
    const most = this.#zeroFills() ? ZERO_FILL_MAX : AHEAD_MAX
    if (this.#aheadBytes >= most) return
    this.#aheadBytes = Math.min(this.#aheadBytes * 2, most, this.#geometry.sizeUpper)
    this.lowWater = this.#aheadBytes / 2
  }

  /** Whether an allocation now also writes zeros over what it allocates. */
  #zeroFills(): boolean {
    return this.#zeroFillable && !this.#prefault.synced
  }

  /**
   * The writer at `size` caught up with background growth that has not landed (a synchronous
   * loop never lets the event loop take its result): takes it, waiting for it if it still
   * runs, and allocates ahead now if that is not enough; a failure is left to the write that
   * needs the room.
   */
  #growNow(size: number): void {
    this.#lookFurther()
    this.#awaitGrowing()
    if (size + this.lowWater / 2 <= this.#allocated) {
      this.growAhead(size)
      return
    }
    const from = this.#allocated
    const target = this.#aheadTarget(from, size)
    if (target <= from) return
    const zeroFill = this.#zeroFills()
    const startNs = nowNs()
    try {
      this.#fitMapping()
      allocate(this.#fd, from, target - from, zeroFill)
    } catch {
      this.#stats.record(Operation.truncate, startNs, false)
      return
    }
    this.#stats.record(Operation.truncate, startNs, true)
    this.#setAllocated(target)
  }

  /** Waits on this thread for background growth in flight, and takes its result. */
  #awaitGrowing(): void {
    for (let growing = this.#growing; growing !== null; growing = this.#growing) {
      let failure: unknown = null
      try {
        growing.allocation.wait()
      } catch (error) {
        failure = error
      }
      this.#grown(growing, failure)
    }
  }

  /** Hands the pool the pages ahead of the writer at `size` not handed yet. */
  #prefaultAhead(size: number): void {
    this.#prefault.ahead(size, this.#allocated, this.#aheadBytes)
  }

  /**
   * A hole in what this writer committed since the file was opened (data it wrote is written
   * or in the page cache, never a hole). One lseek, after each background allocation.
   */
  #holeInData(): boolean {
    const pageSize = this.#geometry.pageSize
    const begin = Math.ceil(this.#openedSize / pageSize) * pageSize
    const end = Math.floor(this.#size() / pageSize) * pageSize
    if (end <= begin) return false
    try {
      return native.seekHole(this.#fd, begin) < end
    } catch {
      return false // a file system without SEEK_HOLE: the fault count alone tells
    }
  }

  /** Where the writer next calls {@link advance}. */
  #setCheck(): void {
    if (this.#stopped) {
      this.nextCheck = Infinity
      return
    }
    const allocated = this.#allocated
    // A file allocated up to sizeUpper grows no more.
    const grow = allocated >= this.#geometry.sizeUpper ? Infinity : allocated - (this.#growing === null ? this.lowWater : this.lowWater / 2)
    this.nextCheck = Math.max(0, Math.min(grow, this.#prefault.nextCheck(allocated, this.#aheadBytes)))
  }

  #fitMapping(): void {
    if (!(this.#mapping instanceof SharedArrayBuffer)) native.fitMapping(this.#mapping, this.#fd)
  }

  /** Allocates `[from, end)` on the thread pool. */
  #startGrowing(from: number, end: number, minimal: number, startNs: number): void {
    let allocation: BackgroundAllocation
    try {
      this.#fitMapping() // counts what a cut under the writer took, as makeRoom does
      allocation = new BackgroundAllocation(this.#fd, from, end - from, this.#zeroFills())
    } catch (error) {
      this.#stats.record(Operation.truncate, startNs, false)
      if (minimal > from) this.#failure = fromSystemError(error, this.#path(), 'allocate')
      return
    }
    const growing: Growing = { allocation, from, end, minimal, startNs, settled: false }
    this.#growing = growing
    void allocation.done.then(
      () => this.#grown(growing, null),
      (error: unknown) => this.#grown(growing, error),
    )
  }

  /**
   * Takes the result of background growth, once: from the event loop, or from the writer that
   * waited for it. `failure` is null when it allocated.
   */
  #grown(growing: Growing, failure: unknown): void {
    if (growing.settled) return
    growing.settled = true
    if (this.#growing === growing) this.#growing = null
    const stats = this.#stats
    if (failure === null) {
      stats.record(Operation.truncate, growing.startNs, true)
      this.#failure = null
      if (this.#holeInData()) this.lost = true
      if (!this.#stopped) {
        try {
          this.#setAllocated(growing.end)
        } catch (error) {
          // The mapping could not follow the file (replaced under the writer): the write that
          // needs the room meets it.
          this.#failure = fromSystemError(error, this.#path(), 'allocate')
        }
        this.#prefaultAhead(this.#size())
      }
    } else if (!this.#stopped && growing.minimal > growing.from && growing.minimal < growing.end) {
      // The step does not fit: try just what the waiting write needs before giving up.
      this.#startGrowing(growing.from, growing.minimal, growing.minimal, growing.startNs)
    } else {
      stats.record(Operation.truncate, growing.startNs, false)
      // When even what a waiting write needs did not fit, that write's next try reports it. A
      // look-ahead nobody waits for yet fails quietly: the write that needs the room tries
      // again with what it needs, and a blocking write meets the condition itself.
      if (!this.#stopped && growing.minimal > growing.from) this.#failure = fromSystemError(failure, this.#path(), 'allocate')
    }
    this.#setCheck()
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
