/**
 * Manager: opens append-only files in a directory, hands out one instance per open name,
 * flushes them in the background and keeps the statistics (the Go `aof` package's Manager).
 * @module
 */
import { closeSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'

import { describeValue, intervalMs, invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode } from '../errors.ts'
import { AppendOnlyFile } from './writer.ts'
import type { FileOwner } from './writer.ts'
import { FileState } from './file-state.ts'
import { checkOpenArguments, openAnonymous, openFile } from './open-file.ts'
import type { FileResources, OpenOptions } from './open-file.ts'
import { Operation, StatsRecorder, nowNs } from './stats.ts'
import type { Stats } from './stats.ts'
import { writePublishedStats } from './stats-file.ts'

/** Options of a {@link Manager}. */
export interface ManagerOptions {
  /** Directory that relative names resolve against. Default: the current directory. */
  dir?: string
  /** Mode bits of files the manager creates. Default: 0o644. */
  writeMode?: number
  /** Mode bits finish() gives a file (read-only). Default: 0o444. */
  readMode?: number
  /** Interval of the background flush of open files, in ms; 0 turns it off. Default: 1000. */
  flushIntervalMs?: number
  /**
   * Publish {@link Manager.stats} for other processes: a JSON file at this path (resolved
   * against `dir`), replaced atomically every `statsIntervalMs` and once more at close, which
   * `aof stats` reads. Default: none.
   */
  statsFile?: string
  /** Interval of the statistics file's updates, in ms (at least 10). Default: 1000. */
  statsIntervalMs?: number
}

function checkMode(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o7777) {
    throw invalidArgument(`${name} must be file mode bits (0 to 0o7777), got ${describeValue(value)}`)
  }
  return value
}

/** The options of an open that found `path` open already: those it gives must be the first open's. */
function checkSameOptions(path: string, first: OpenOptions, again: OpenOptions): void {
  const differs = (name: string): never => {
    throw invalidArgument(`'${path}' is open already with other ${name}: close it first, or open it with the same options`)
  }
  if (again.recovery !== undefined && again.recovery !== first.recovery) differs('recovery')
  if (again.mode !== undefined && again.mode !== first.mode) differs('mode')
  const geometry = again.geometry
  if (geometry !== undefined) {
    const before = (first.geometry ?? {}) as Record<string, unknown>
    for (const [key, value] of Object.entries(geometry)) if (value !== before[key]) differs(`geometry (${key})`)
  }
}

/** Opens files, shares open instances, flushes in the background and keeps statistics. */
export class Manager {
  /** The `dir` option, resolved; null when relative names follow the working directory. */
  readonly #dir: string | null
  /** Mode bits of created files. */
  readonly writeMode: number
  /** Mode bits of finished files. */
  readonly readMode: number
  /** Background flush interval in ms (0: off). */
  readonly flushIntervalMs: number

  readonly #stats = new StatsRecorder()
  readonly #files = new Map<string, WeakRef<AppendOnlyFile>>()
  /** The options each file was first opened with. */
  readonly #options = new WeakMap<AppendOnlyFile, OpenOptions>()
  readonly #finalizer: FinalizationRegistry<{ key: string; fd: number; sidecarFd: number; mappedBytes: number }>
  readonly #owner: FileOwner
  #flushTimer: NodeJS.Timeout | null = null
  readonly #statsFile: string | null
  #statsTimer: NodeJS.Timeout | null = null
  #closed = false

  constructor(given?: ManagerOptions) {
    const options = optionsOf(given, 'manager options')
    if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir.length === 0)) {
      throw invalidArgument('dir must be a non-empty string')
    }
    this.#dir = options.dir === undefined ? null : resolve(options.dir)
    this.writeMode = checkMode('writeMode', options.writeMode, 0o644)
    this.readMode = checkMode('readMode', options.readMode, 0o444)
    // 0: no background flush.
    this.flushIntervalMs = intervalMs(options.flushIntervalMs, 'flushIntervalMs', 1000, 0)
    if (options.statsFile !== undefined && (typeof options.statsFile !== 'string' || options.statsFile.length === 0)) {
      throw invalidArgument('statsFile must be a non-empty string')
    }
    const statsInterval = intervalMs(options.statsIntervalMs, 'statsIntervalMs', 1000, 10)
    this.#statsFile = options.statsFile === undefined ? null : resolve(this.dir, options.statsFile)
    if (this.#statsFile !== null) {
      this.#publishStats(false)
      this.#statsTimer = setInterval(() => this.#publishStats(false), statsInterval)
      this.#statsTimer.unref()
    }
    const stats = this.#stats
    const files = this.#files
    const readMode = this.readMode
    this.#owner = {
      stats,
      readMode,
      release: (file: AppendOnlyFile) => {
        this.#finalizer.unregister(file)
        const key = file.isAnonymous ? `anonymous:${file.path}` : file.path
        if (files.get(key)?.deref() === file) files.delete(key)
      },
      renamed: (file: AppendOnlyFile, previousPath: string) => {
        const ref = files.get(previousPath)
        if (ref?.deref() !== file) return
        files.delete(previousPath)
        files.set(file.path, ref)
      },
    }
    // A file dropped without close() still holds descriptors: release them and count it.
    this.#finalizer = new FinalizationRegistry((held) => {
      const startNs = nowNs()
      for (const fd of [held.fd, held.sidecarFd]) {
        if (fd >= 0) {
          try {
            closeSync(fd)
          } catch {
            // already closed
          }
        }
      }
      if (files.get(held.key)?.deref() === undefined) files.delete(held.key)
      stats.add('activeMaps', -1)
      stats.add(held.fd >= 0 ? 'activeMappedMemory' : 'activeAnonymousMemory', -held.mappedBytes)
      stats.record(Operation.finalize, startNs)
    })
  }

  /**
   * Directory that relative names resolve against: the `dir` option, or else the working
   * directory at the time of each call.
   */
  get dir(): string {
    return this.#dir ?? process.cwd()
  }

  /**
   * Opens (or creates) `name`, resolved against {@link Manager.dir} now. While a file is open,
   * opening the same name again returns the same instance, and counts: each `open()` needs its
   * own `close()`, and only the last one closes the file (`finish()` ends it for all). Options
   * given again must be those of the first open (`create` aside): others are refused with
   * `ERR_AOF_INVALID_ARGUMENT`, since the file cannot have two geometries. Synchronous; throws
   * an {@link AofkitError}.
   */
  open(name: string, options: OpenOptions = {}): AppendOnlyFile {
    this.#checkOpen()
    checkOpenArguments(name, options)
    const path = isAbsolute(name) ? name : resolve(this.dir, name)
    const existing = this.#live(path)
    if (existing !== null) {
      checkSameOptions(path, this.#options.get(existing) ?? {}, options)
      existing.retain()
      return existing
    }
    const startNs = nowNs()
    let resources: FileResources
    try {
      resources = openFile(path, options, this.writeMode, this.#stats)
    } catch (error) {
      this.#stats.record(Operation.open, startNs, false)
      throw error
    }
    this.#stats.record(Operation.open, startNs, true)
    this.#stats.add('activeFileSize', resources.allocated)
    const file = this.#adopt(path, resources)
    this.#options.set(file, options)
    return file
  }

  /**
   * Opens a memory-only file of `size` bytes (rounded up to a page) with the same API. It never
   * grows: writing past its size throws `ERR_AOF_FULL`. The same name while open returns the
   * same instance, counted as {@link Manager.open} counts.
   */
  openAnonymous(name: string, size: number): AppendOnlyFile {
    this.#checkOpen()
    if (typeof name !== 'string' || name.length === 0) {
      throw invalidArgument('name must be a non-empty string')
    }
    const key = `anonymous:${name}`
    const existing = this.#live(key)
    if (existing !== null) {
      existing.retain()
      return existing
    }
    const resources = openAnonymous(name, size)
    this.#stats.add('activeAnonymousMemory', resources.mappedBytes)
    return this.#adopt(key, resources)
  }

  /** A snapshot of every counter and duration (nanoseconds) of the Go `aof` package's Stats. */
  stats(): Stats {
    return this.#stats.snapshot()
  }

  /** Every file this manager has open. */
  files(): AppendOnlyFile[] {
    const open: AppendOnlyFile[] = []
    for (const ref of this.#files.values()) {
      const file = ref.deref()
      if (file !== undefined) open.push(file)
    }
    return open
  }

  /** Closes every open file and stops the background flush. Further opens throw `ERR_AOF_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer)
    this.#flushTimer = null
    await Promise.all(this.files().map((file) => file.closeAll()))
    if (this.#statsTimer !== null) clearInterval(this.#statsTimer)
    this.#statsTimer = null
    if (this.#statsFile !== null) this.#publishStats(true)
  }

  /** Writes the statistics file; a failure to write it never disturbs the files. */
  #publishStats(closed: boolean): void {
    try {
      writePublishedStats(this.#statsFile as string, {
        format: 'aofkit-stats',
        pid: process.pid,
        time: Date.now(),
        closed,
        files: this.files().map((file) => file.path),
        stats: this.#stats.snapshot(),
      })
    } catch {
      // Statistics are best effort; the next interval tries again.
    }
  }

  #adopt(key: string, resources: FileResources): AppendOnlyFile {
    const file = AppendOnlyFile.adopt(resources, this.#owner)
    this.#files.set(key, new WeakRef(file))
    const held = { key, fd: resources.fd, sidecarFd: resources.sidecar?.fd ?? -1, mappedBytes: resources.mappedBytes }
    this.#finalizer.register(file, held, file)
    this.#stats.add('activeMaps', 1)
    this.#stats.add('lifetimeMemory', resources.mappedBytes)
    if (!resources.anonymous) this.#stats.add('activeMappedMemory', resources.mappedBytes)
    this.#startFlushing()
    return file
  }

  #live(key: string): AppendOnlyFile | null {
    const file = this.#files.get(key)?.deref()
    if (file === undefined) return null
    if (file.state === FileState.Closing || file.state === FileState.Closed) return null
    return file
  }

  #startFlushing(): void {
    if (this.#flushTimer !== null || this.flushIntervalMs === 0) return
    this.#flushTimer = setInterval(() => {
      for (const file of this.files()) {
        if (file.state === FileState.Opened && !file.isAnonymous) file.flush().catch(() => undefined)
      }
    }, this.flushIntervalMs)
    this.#flushTimer.unref()
  }

  #checkOpen(): void {
    if (this.#closed) throw new AofkitError(ErrorCode.Closed, 'the manager is closed')
  }
}

let defaultInstance: Manager | null = null

/** The process-wide manager behind {@link AppendOnlyFile.open}. */
export function defaultManager(): Manager {
  defaultInstance ??= new Manager()
  return defaultInstance
}
