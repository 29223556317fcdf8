/**
 * Statistics of a Manager: every counter and duration of the Go `aof` package's Stats, keyed by the Go `aof` package's
 * names in camelCase. Counts are plain numbers; durations are nanoseconds.
 * @module
 */

/** A snapshot of a manager's statistics. */
export interface Stats {
  /** Count of files created. */
  creates: number
  /** Nanoseconds spent in: files created. */
  createsDur: number
  /** Count of files opened (AppendOnlyFile instances). */
  opens: number
  /** Nanoseconds spent in: files opened (AppendOnlyFile instances). */
  opensDur: number
  /** Count of opens that failed. */
  openErrors: number
  /** Nanoseconds spent in: opens that failed. */
  openErrorsDur: number
  /** Count of operating-system file opens. */
  openFileCount: number
  /** Nanoseconds spent in: operating-system file opens. */
  openFileDur: number
  /** Count of operating-system file opens that failed. */
  openFileErrors: number
  /** Nanoseconds spent in: operating-system file opens that failed. */
  openFileErrorsDur: number
  /** Count of files closed. */
  closes: number
  /** Nanoseconds spent in: files closed. */
  closeDur: number
  /** Mappings currently held. */
  activeMaps: number
  /** Bytes allocated by the open files. */
  activeFileSize: number
  /** Bytes of address space mapped by the open files. */
  activeMappedMemory: number
  /** Bytes held by open anonymous files. */
  activeAnonymousMemory: number
  /** Bytes ever mapped or allocated. */
  lifetimeMemory: number
  /** Count of flushes (write-back started). */
  flushes: number
  /** Nanoseconds spent in: flushes (write-back started). */
  flushesDur: number
  /** Count of flushes that failed. */
  flushErrors: number
  /** Nanoseconds spent in: flushes that failed. */
  flushErrorsDur: number
  /** Count of files finished. */
  finishes: number
  /** Nanoseconds spent in: files finished. */
  finishesDur: number
  /** Count of finishes that failed. */
  finishErrors: number
  /** Nanoseconds spent in: finishes that failed. */
  finishErrorsDur: number
  /** Count of fdatasync calls made (one per group of sync() callers). */
  syncs: number
  /** Nanoseconds spent in: fdatasync calls made (one per group of sync() callers). */
  syncsDur: number
  /** Count of syncs that failed. */
  syncErrors: number
  /** Nanoseconds spent in: syncs that failed. */
  syncErrorsDur: number
  /** Count of mmap calls. */
  maps: number
  /** Nanoseconds spent in: mmap calls. */
  mapsDur: number
  /** Count of mmap calls that failed. */
  mapErrors: number
  /** Nanoseconds spent in: mmap calls that failed. */
  mapErrorsDur: number
  /** Count of munmap calls. */
  unmaps: number
  /** Nanoseconds spent in: munmap calls. */
  unmapsDur: number
  /** Count of munmap calls that failed. */
  unmapErrors: number
  /** Nanoseconds spent in: munmap calls that failed. */
  unmapErrorsDur: number
  /** Count of files released by the garbage collector without close(). */
  finalizes: number
  /** Nanoseconds spent in: files released by the garbage collector without close(). */
  finalizesDur: number
  /** Count of size changes: growth by fallocate and the final truncate of finish(). */
  truncates: number
  /** Nanoseconds spent in: size changes: growth by fallocate and the final truncate of finish(). */
  truncatesDur: number
  /** Count of size changes that failed. */
  truncateErrors: number
  /** Nanoseconds spent in: size changes that failed. */
  truncateErrorsDur: number
  /** Count of mode changes (finish() makes a file read-only). */
  chmods: number
  /** Nanoseconds spent in: mode changes (finish() makes a file read-only). */
  chmodsDur: number
  /** Count of mode changes that failed. */
  chmodErrors: number
  /** Nanoseconds spent in: mode changes that failed. */
  chmodErrorsDur: number
}

/** Every statistic's name, in the Go `aof` package's order. */
export const STATS_KEYS: readonly (keyof Stats)[] = [
  'creates',
  'createsDur',
  'opens',
  'opensDur',
  'openErrors',
  'openErrorsDur',
  'openFileCount',
  'openFileDur',
  'openFileErrors',
  'openFileErrorsDur',
  'closes',
  'closeDur',
  'activeMaps',
  'activeFileSize',
  'activeMappedMemory',
  'activeAnonymousMemory',
  'lifetimeMemory',
  'flushes',
  'flushesDur',
  'flushErrors',
  'flushErrorsDur',
  'finishes',
  'finishesDur',
  'finishErrors',
  'finishErrorsDur',
  'syncs',
  'syncsDur',
  'syncErrors',
  'syncErrorsDur',
  'maps',
  'mapsDur',
  'mapErrors',
  'mapErrorsDur',
  'unmaps',
  'unmapsDur',
  'unmapErrors',
  'unmapErrorsDur',
  'finalizes',
  'finalizesDur',
  'truncates',
  'truncatesDur',
  'truncateErrors',
  'truncateErrorsDur',
  'chmods',
  'chmodsDur',
  'chmodErrors',
  'chmodErrorsDur',
]

/** A Stats object with every field zero. */
export function emptyStats(): Stats {
  const stats = {} as Record<keyof Stats, number>
  for (const key of STATS_KEYS) stats[key] = 0
  return stats
}

/** The count and duration fields of one kind of operation, with its error fields. */
export interface OperationKeys {
  count: keyof Stats
  duration: keyof Stats
  errors: keyof Stats
  errorsDuration: keyof Stats
}

/** The operations the recorder times, and the fields each updates. */
export const Operation = {
  create: { count: 'creates', duration: 'createsDur', errors: 'openErrors', errorsDuration: 'openErrorsDur' },
  open: { count: 'opens', duration: 'opensDur', errors: 'openErrors', errorsDuration: 'openErrorsDur' },
  openFile: { count: 'openFileCount', duration: 'openFileDur', errors: 'openFileErrors', errorsDuration: 'openFileErrorsDur' },
  close: { count: 'closes', duration: 'closeDur', errors: 'closes', errorsDuration: 'closeDur' },
  flush: { count: 'flushes', duration: 'flushesDur', errors: 'flushErrors', errorsDuration: 'flushErrorsDur' },
  finish: { count: 'finishes', duration: 'finishesDur', errors: 'finishErrors', errorsDuration: 'finishErrorsDur' },
  sync: { count: 'syncs', duration: 'syncsDur', errors: 'syncErrors', errorsDuration: 'syncErrorsDur' },
  map: { count: 'maps', duration: 'mapsDur', errors: 'mapErrors', errorsDuration: 'mapErrorsDur' },
  unmap: { count: 'unmaps', duration: 'unmapsDur', errors: 'unmapErrors', errorsDuration: 'unmapErrorsDur' },
  finalize: { count: 'finalizes', duration: 'finalizesDur', errors: 'finalizes', errorsDuration: 'finalizesDur' },
  truncate: { count: 'truncates', duration: 'truncatesDur', errors: 'truncateErrors', errorsDuration: 'truncateErrorsDur' },
  chmod: { count: 'chmods', duration: 'chmodsDur', errors: 'chmodErrors', errorsDuration: 'chmodErrorsDur' },
} as const satisfies Record<string, OperationKeys>

/** Monotonic nanoseconds, as a number. */
export function nowNs(): number {
  return Number(process.hrtime.bigint())
}

/** Collects a manager's statistics. Files report their operations here. */
export class StatsRecorder {
  readonly #stats: Stats = emptyStats()

  /** Records one finished operation that began at `startNs`. */
  record(operation: OperationKeys, startNs: number, ok = true): void {
    const elapsedNs = nowNs() - startNs
    if (ok) {
      this.#stats[operation.count] += 1
      this.#stats[operation.duration] += elapsedNs
    } else {
      this.#stats[operation.errors] += 1
      this.#stats[operation.errorsDuration] += elapsedNs
    }
  }

  /** Times `work`, recording success or failure; rethrows failures. */
  time<T>(operation: OperationKeys, work: () => T): T {
    const startNs = nowNs()
    try {
      const result = work()
      this.record(operation, startNs, true)
      return result
    } catch (error) {
      this.record(operation, startNs, false)
      throw error
    }
  }

  /** Times asynchronous `work`, recording success or failure; rethrows failures. */
  async timeAsync<T>(operation: OperationKeys, work: () => Promise<T>): Promise<T> {
    const startNs = nowNs()
    try {
      const result = await work()
      this.record(operation, startNs, true)
      return result
    } catch (error) {
      this.record(operation, startNs, false)
      throw error
    }
  }

  /** Adds `delta` to a gauge such as activeMaps (negative to release). */
  add(key: keyof Stats, delta: number): void {
    this.#stats[key] += delta
  }

  /** A copy of the current statistics. */
  snapshot(): Stats {
    return { ...this.#stats }
  }
}
