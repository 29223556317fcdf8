/**
 * Prefaulting: the pages an open file's writer will write next are faulted in on the libuv
 * pool (MADV_POPULATE_WRITE), so its stores find them mapped. It is asked for from the writer's
 * own commits (through its growth's `advance`), so it keeps ahead of a writer that never lets
 * the event loop turn. Once the file has been synced, it reaches only as far as the writer is
 * expected to write before its next sync: every sync writes back the pages prefaulted ahead
 * (zeros) and write-protects them again (docs/PERFORMANCE.md, "Prefaulting a synced file").
 * @module
 */
import * as native from '../native/binding.ts'

/** The least a synced file's writer gets prefaulted ahead of it after each sync. */
export const SYNCED_WINDOW_MIN = 16 * 1024
/**
 * How far ahead of a writer that never synced its file pages are prefaulted, at most (growth's
 * look-ahead, 8 MiB while it zero-fills, bounds it first): with less, a burst of 16 B writes into
 * a file with 64 MiB steps met the prefault and faulted pages in itself.
 */
export const PREFAULT_AHEAD_MAX = 64 * 1024 * 1024
/** How much further a writer goes before it asks again for a prefault held back by a running one. */
export const PREFAULT_RETRY = 64 * 1024

/** The prefaulting ahead of one open, file-backed append-only file's writer, for its growth. */
export class Prefault {
  readonly #fd: number
  readonly #mapping: ArrayBuffer | SharedArrayBuffer
  readonly #pageSize: number
  /** Jobs on the thread pool; the mapping must outlive them. */
  readonly #jobs = new Set<Promise<void>>()
  /** Where the prefaulting handed to the pool so far ends. */
  #handed: number
  /** Where the writer asks again for a prefault it could not start (one was running), or 0. */
  #retry = 0
  /** The data size the last sync covered, or -1 while the file was never synced. */
  #syncedSize = -1
  /** How far ahead of a synced file's writer pages are prefaulted: what it wrote between its last syncs, and a quarter more. */
  #syncedWindow = SYNCED_WINDOW_MIN

  /** @param size - The committed data size at open: what lies before it is in place. */
  constructor(fd: number, mapping: ArrayBuffer | SharedArrayBuffer, pageSize: number, size: number) {
    this.#fd = fd
    this.#mapping = mapping
    this.#pageSize = pageSize
    this.#handed = size
  }

  /** Whether the file was synced since it was opened. */
  get synced(): boolean {
    return this.#syncedSize >= 0
  }

  /**
   * How far ahead of the writer pages are prefaulted: growth's look-ahead `aheadBytes` (at most
   * {@link PREFAULT_AHEAD_MAX}), or, once the file has been synced, the synced window.
   */
  reach(aheadBytes: number): number {
    return this.#syncedSize < 0 ? Math.min(aheadBytes, PREFAULT_AHEAD_MAX) : this.#syncedWindow
  }

  /**
   * Hands the pool the pages ahead of the writer at `size` not handed yet, up to `allocated`
   * and the {@link reach}.
   */
  ahead(size: number, allocated: number, aheadBytes: number): void {
    const end = Math.min(allocated, size + this.reach(aheadBytes))
    const from = Math.max(this.#handed, size)
    if (end <= from) return
    // One prefault at a time: each holds the process's mmap lock while it runs, and side by
    // side they keep the writer's own mmap and brk waiting (docs/PERFORMANCE.md, "Growth ahead
    // of the writer"). The pool says when one is done, so a synchronous loop asks again a
    // little further on.
    const mapping = this.#mapping
    if (!(mapping instanceof SharedArrayBuffer) && this.#fd >= 0 && native.mappingAdvising(mapping) > 0) {
      this.#retry = size + PREFAULT_RETRY
      return
    }
    this.#retry = 0
    this.#handed = end
    this.#populate(from, end)
  }

  /**
   * Where the writer should next ask for prefaulting ({@link ahead}), for a file allocated up
   * to `allocated`: half-way through what was handed, for a file never synced (in steps of
   * half the reach); for a synced file, only once the writer went through its window, as pages
   * prefaulted before its next sync would be written back as zeros. Infinity when nothing is
   * left to prefault.
   */
  nextCheck(allocated: number, aheadBytes: number): number {
    const renew = this.#handed >= allocated ? Infinity : this.#handed - (this.#syncedSize < 0 ? this.reach(aheadBytes) / 2 : 0)
    return Math.max(renew, this.#retry)
  }

  /**
   * A sync covering `covered` bytes is about to write the file back: every page dirty so far,
   * the zeros prefaulted ahead of the writer included, is written and write-protected. Returns
   * the range to prefault again once it has (what the writer is expected to write before its
   * next sync, from its `size`, up to `allocated`), or null (also when `stopped`).
   */
  syncing(covered: number, size: number, allocated: number, aheadBytes: number, stopped: boolean): { begin: number; end: number } | null {
    const interval = this.#syncedSize < 0 ? 0 : covered - this.#syncedSize
    this.#syncedSize = Math.max(this.#syncedSize, covered)
    const pageSize = this.#pageSize
    const wanted = Math.ceil((interval * 1.25) / pageSize) * pageSize
    this.#syncedWindow = Math.min(Math.max(wanted, SYNCED_WINDOW_MIN), aheadBytes)
    if (stopped || native.advice.populateWrite < 0) return null
    const begin = Math.floor(size / pageSize) * pageSize
    const end = Math.min(allocated, begin + this.#syncedWindow)
    // Later prefaulting goes on from there: what lies beyond was written back as zeros.
    this.#handed = Math.max(begin, end)
    return end > begin ? { begin, end } : null
  }

  /** Resolves once no prefault job is in flight. */
  async settled(): Promise<void> {
    await Promise.all(this.#jobs)
  }

  /** Touches the pages of `[from, to)` on the thread pool, not on the main thread. */
  #populate(from: number, to: number): void {
    const populate = native.advice.populateWrite
    const begin = Math.floor(from / this.#pageSize) * this.#pageSize
    if (populate < 0 || this.#fd < 0 || to <= begin) return
    const job = native.madviseAsync(this.#mapping as ArrayBuffer, begin, to - begin, populate).then(
      () => undefined,
      () => undefined,
    )
    this.#jobs.add(job)
    void job.then(() => this.#jobs.delete(job))
  }
}
