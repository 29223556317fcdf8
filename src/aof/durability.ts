/**
 * Durability of an open file: write-back started on request (`flush()`) and durable syncs
 * shared among concurrent callers (`sync()`, one fdatasync for all of them).
 * @module
 */
import { fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { GroupSync } from './group-sync.ts'
import { MAGIC_SIZE } from './magic.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'

/** What durability needs of its file. */
export interface DurabilityTarget {
  readonly fd: number
  readonly pageSize: number
  /** The whole mapping: msync's fallback where sync_file_range is missing. */
  readonly mapping: ArrayBuffer | SharedArrayBuffer
  readonly stats: StatsRecorder
  /** The data size when the file was opened: all of it is on disk already. */
  readonly size: number
  /** The path errors name (it changes when the file is renamed). */
  path(): string
  /** The committed data size now. */
  committedSize(): number
}

/** Flushes and syncs of one file-backed append-only file. */
export class Durability {
  readonly #target: DurabilityTarget
  readonly #groupSync: GroupSync
  #flushedSize: number
  #flushing: Promise<void> | null = null

  constructor(target: DurabilityTarget) {
    this.#target = target
    this.#flushedSize = target.size
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

  /** Resolves once every byte written before the call is durable; concurrent calls share. */
  sync(): Promise<void> {
    return this.#groupSync.sync()
  }

  /** One fdatasync of the file, now. */
  async fdatasync(): Promise<void> {
    const target = this.#target
    const startNs = nowNs()
    try {
      await native.fdatasyncAsync(target.fd)
      target.stats.record(Operation.sync, startNs, true)
    } catch (error) {
      target.stats.record(Operation.sync, startNs, false)
      throw fromSystemError(error, target.path(), 'sync')
    }
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
    const pageSize = target.pageSize
    const begin = Math.floor(Math.min(this.#flushedSize, size) / pageSize) * pageSize
    if (end <= begin) return
    const startNs = nowNs()
    try {
      await native.syncFileRangeAsync(target.fd, begin, end - begin).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOSYS') throw error
        return native.msyncAsync(target.mapping as ArrayBuffer, begin, end - begin, false)
      })
      this.#flushedSize = Math.max(this.#flushedSize, end - MAGIC_SIZE)
      target.stats.record(Operation.flush, startNs, true)
    } catch (error) {
      target.stats.record(Operation.flush, startNs, false)
      throw fromSystemError(error, target.path(), 'flush')
    }
  }
}
