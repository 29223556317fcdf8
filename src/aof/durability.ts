/**
 * Durability of an open file: write-back started on request (`flush()`) and durable syncs
 * shared among concurrent callers (`sync()`, one fdatasync for all of them).
 * @module
 */
import { fchmodSync } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { GroupSync } from './group-sync.ts'
import type { Growth } from './growth.ts'
import { MAGIC_SIZE } from './magic.ts'
import { NOT_SYNCED, SYNC_RECORD_OFFSET } from './shm.ts'
import { syncCheck } from './sync-check.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'
import type { FileResources } from './open-file.ts'

const NO_RECORD = new Uint8Array(0)
/**
 * The most data a sync checks (on the writer's thread, at about 4 GiB/s): a sync that covers
 * more records its size after the data's fdatasync instead, with one more flush, as the first
 * sync of an open does, so that a rare sync of much data never holds the event loop.
 */
export const SYNC_CHECK_MAX = 16 * 1024 * 1024

/** What durability needs of its file, besides what open found. */
export interface DurabilityTarget {
  readonly stats: StatsRecorder
  /** The path errors name (it changes when the file is renamed). */
  path(): string
  /** The committed data size now. */
  committedSize(): number
}

/** Flushes and syncs of one file-backed append-only file. */
export class Durability {
  readonly #file: FileResources
  readonly #target: DurabilityTarget
  readonly #groupSync: GroupSync
  readonly #growth: Growth | null
  #flushedSize: number
  #flushing: Promise<void> | null = null
  /** Data bytes a completed sync of this open made durable, or -1 before the first. */
  #durableSize = -1
  /**
   * The first failure of write-back (an fdatasync, a flush): the kernel may have dropped the
   * pages it could not write and marked them clean, so a later fdatasync can succeed without
   * them. From then on no sync of this file reports success.
   */
  #failed: AofkitError | null = null

  /** @param growth - The file's growth, told of each sync (it prefaults what the sync wrote back). */
  constructor(file: FileResources, target: DurabilityTarget, growth: Growth | null = null) {
    this.#file = file
    this.#target = target
    this.#growth = growth
    // What open found is on disk already.
    this.#flushedSize = file.size
    this.#groupSync = new GroupSync(
      () => this.fdatasync(),
      () => target.committedSize() + MAGIC_SIZE,
    )
  }

  /** Starts write-back of the data written since the last flush (calls in flight share one). */
  flush(): Promise<void> {
    if (this.#flushing !== null) return this.#flushing
    const flushing = this.#flush().finally(() => {
      this.#flushing = null
    })
    this.#flushing = flushing
    return flushing
  }

  /**
   * Resolves once every byte written before the call is durable; concurrent calls share. Once
   * write-back of the file failed, rejects for good (see {@link Durability.failed}).
   */
  sync(): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#stillFailed())
    return this.#groupSync.sync()
  }

  /** The failure that made the file's durability unknown, or null. */
  get failed(): AofkitError | null {
    return this.#failed
  }

  /**
   * One fdatasync of the file, now, with the size it makes durable recorded in the sidecar.
   * After a power cut the committed size in the sidecar may be older or newer than what
   * reached the disk, and the MagicTail that ended the synced data may be overwritten by a
   * later write: recovery then ends the data at the synced size (docs/FORMAT.md, "After a
   * power cut"). The first sync of an open writes the record after the data's fdatasync and
   * fdatasyncs the sidecar (its page may be new, its block not yet written); every later one
   * writes the record, with the check of the data since the last sync, before the data's
   * fdatasync, whose cache flush then covers both (docs/PERFORMANCE.md, "Durable appends").
   */
  async fdatasync(): Promise<void> {
    if (this.#failed !== null) throw this.#stillFailed()
    const target = this.#target
    const startNs = nowNs()
    // Every byte committed before the call is covered by the fdatasync below.
    const covered = target.committedSize()
    const mapping = this.#file.mapping
    const sidecar = this.#file.sidecar
    if (mapping instanceof SharedArrayBuffer || mapping.byteLength === 0) {
      await this.#fdatasyncApart(covered, startNs)
      return
    }
    // The pages the writer goes on into were written back and write-protected by the
    // fdatasync: the same job faults them in again, before the writer resumes.
    const refault = this.#growth?.syncing(covered) ?? null
    this.#checkNotCut(mapping, startNs)
    // The first sync of an open, and one that covers more than SYNC_CHECK_MAX, records its size
    // after the data is durable; the others, with the check of what they add, before.
    // Without a sidecar there is no record: nothing to check.
    const from = this.#durableSize
    const checked = sidecar !== null && from >= 0 && from <= covered && covered - from <= SYNC_CHECK_MAX
    const record =
      sidecar === null
        ? NO_RECORD
        : sidecar.syncRecord(checked ? { size: covered, from, check: syncCheck(new Uint8Array(mapping), from, covered), checked } : { ...NOT_SYNCED, size: covered })
    // One job on the pool: the record in the sidecar and the data made durable, in the order
    // above, then the prefault.
    try {
      await native.syncChainAsync(
        mapping,
        this.#file.fd,
        sidecar?.fd ?? -1,
        record,
        SYNC_RECORD_OFFSET,
        refault?.begin ?? 0,
        refault === null ? 0 : refault.end - refault.begin,
        native.advice.populateWrite,
        checked,
      )
    } catch (error) {
      target.stats.record(Operation.sync, startNs, false)
      throw this.#fail(fromSystemError(error, target.path(), 'sync'))
    }
    this.#checkNotCut(mapping, startNs)
    this.#durableSize = covered
    target.stats.record(Operation.sync, startNs, true)
  }

  /**
   * Someone cut the file under the mapping: stores there went to zero pages, not to the file;
   * or growth extended the file again past the cut, leaving a hole where data was.
   */
  #checkNotCut(mapping: ArrayBuffer, startNs: number): void {
    if (native.faults(mapping) === 0 && this.#growth?.lost !== true) return
    const target = this.#target
    target.stats.record(Operation.sync, startNs, false)
    throw this.#fail(
      new AofkitError(ErrorCode.Replaced, `file '${target.path()}' was truncated under its writer: written data is lost`, {
        path: target.path(),
      }),
    )
  }

  /** {@link fdatasync} of a file without a mapping of its own: one call at a time. */
  async #fdatasyncApart(covered: number, startNs: number): Promise<void> {
    const target = this.#target
    try {
      await native.fdatasyncAsync(this.#file.fd)
      const sidecar = this.#file.sidecar
      if (sidecar !== null) {
        sidecar.setSyncedSize(covered)
        await native.fdatasyncAsync(sidecar.fd)
      }
    } catch (error) {
      target.stats.record(Operation.sync, startNs, false)
      throw this.#fail(fromSystemError(error, target.path(), 'sync'))
    }
    target.stats.record(Operation.sync, startNs, true)
  }

  /** Cuts the file to `size` bytes (finish() cuts the allocation ahead of the data). */
  truncate(size: number): void {
    const target = this.#target
    target.stats.time(Operation.truncate, () => {
      try {
        native.ftruncate(this.#file.fd, size)
      } catch (error) {
        throw fromSystemError(error, target.path(), 'truncate')
      }
    })
  }

  /** Makes everything durable once the syncs in flight are done, then the file read-only (`mode`). */
  async sealReadOnly(mode: number): Promise<void> {
    await this.syncsIdle()
    await this.fdatasync()
    const target = this.#target
    target.stats.time(Operation.chmod, () => {
      try {
        fchmodSync(this.#file.fd, mode)
      } catch (error) {
        throw fromSystemError(error, target.path(), 'chmod')
      }
    })
  }

  /** Resolves once no sync runs or waits (their errors are left to their callers). */
  syncsIdle(): Promise<void> {
    return this.#groupSync.idle()
  }

  /** Resolves once no flush runs (its error is left to its caller). */
  async flushIdle(): Promise<void> {
    await this.#flushing?.catch(() => undefined)
  }

  async #flush(): Promise<void> {
    const target = this.#target
    const size = target.committedSize()
    const end = size + MAGIC_SIZE
    const pageSize = this.#file.geometry.pageSize
    const begin = Math.floor(Math.min(this.#flushedSize, size) / pageSize) * pageSize
    if (end <= begin) return
    const startNs = nowNs()
    try {
      await native.syncFileRangeAsync(this.#file.fd, begin, end - begin).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOSYS') throw error
        return native.msyncAsync(this.#file.mapping as ArrayBuffer, begin, end - begin, false)
      })
      this.#flushedSize = Math.max(this.#flushedSize, end - MAGIC_SIZE)
      target.stats.record(Operation.flush, startNs, true)
    } catch (error) {
      target.stats.record(Operation.flush, startNs, false)
      throw this.#fail(fromSystemError(error, target.path(), 'flush'))
    }
  }

  #fail(error: AofkitError): AofkitError {
    this.#failed ??= error
    return error
  }

  /** A sync after write-back failed: it cannot vouch for the data, so it fails too. */
  #stillFailed(): AofkitError {
    const failed = this.#failed!
    const path = this.#target.path()
    return new AofkitError(
      failed.code,
      `file '${path}': an earlier write-back failed (${failed.message}); the kernel may have dropped what it could not write, so no later sync can make the data durable. Reopen the file: recovery finds what is on disk`,
      { path, cause: failed },
    )
  }
}
