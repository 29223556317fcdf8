/**
 * Opening a data file: permissions by mode bits, the writer's exclusive lock, the mapping,
 * recovery and its reconciliation with the `-shm` sidecar. Produces the resources an
 * AppendOnlyFile runs on; the file class itself holds no open logic.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, statSync, unlinkSync } from 'node:fs'
import type { Stats as FsStats } from 'node:fs'

import { invalidArgument, optionsOf } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError, isAofkitError } from '../errors.ts'
import { lockExclusive, unlock } from '../io/lock.ts'
import { checkRegularFile } from '../io/regular-file.ts'
import * as native from '../native/binding.ts'
import { allocate } from './allocate.ts'
import { FileState } from './file-state.ts'
import { Geometry, SIZE_UPPER_MAX, alignToPage } from './geometry.ts'
import type { GeometryOptions } from './geometry.ts'
import { DEFAULT_MAGIC, MAGIC_SIZE, magicBytes } from './magic.ts'
import type { Magic } from './magic.ts'
import { holdWriterLock, releaseWriterLock } from './liveness.ts'
import { reconcile } from './reconcile.ts'
import type { SidecarTrust } from './reconcile.ts'
import { RecoveryKind, recoverWithMagic } from './recovery.ts'
import type { RecoveryFunction, RecoveryResult } from './recovery.ts'
import { Sidecar, readSidecarFile, sidecarPath } from './shm.ts'
import { fileIdentity } from './sidecar-identity.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'

/** How to recover an existing file on open (the Go `aof` package's Recovery). */
export interface Recovery {
  /** The magic numbers. Default: the Go `aof` package's. */
  magic?: Magic
  /** The recovery function. Default: {@link recoverWithMagic}. */
  fn?: RecoveryFunction
  /** Open read-only and never modify the file, whatever recovery finds. */
  readOnly?: boolean
  /**
   * When recovery finds the data corrupted and the sidecar cannot tell the exact committed
   * size, cut the data back to the last checkpoint (or to empty) instead of failing with
   * `ERR_AOF_CORRUPTED`. Default: false.
   */
  repair?: boolean
}

/** The default recovery: the Go `aof` package's magic numbers and {@link recoverWithMagic}. */
export const RecoveryDefault: Recovery = Object.freeze({ magic: DEFAULT_MAGIC, fn: recoverWithMagic })
/** Opens without repairing anything: the file is only read (the Go `aof` package's RecoveryReadOnly). */
export const RecoveryReadOnly: Recovery = Object.freeze({ magic: DEFAULT_MAGIC, fn: recoverWithMagic, readOnly: true })

/** What recovery found on open, and what open did about it. */
export interface OpenRecovery extends RecoveryResult {
  /** Where the committed size came from: the data's magic numbers, the sidecar's committed or synced size, or a repair. */
  source: 'magic' | 'sidecar' | 'synced' | 'repair'
  /**
   * Bytes of a torn or corrupt tail that open cut away (zeroed), 0 when none; for a read-only
   * open, the bytes past the data that it leaves as they are.
   */
  cutBytes: number
  /** What became of the `-shm` sidecar found next to the file ({@link SidecarTrust}). */
  sidecar: SidecarTrust
}

/** Options of {@link AppendOnlyFile.open}. */
export interface OpenOptions {
  /** Create the file if it does not exist. Default: false. */
  create?: boolean
  /** Growth geometry. */
  geometry?: GeometryOptions
  /** Recovery to run on an existing file: an object, or a recovery function. */
  recovery?: Recovery | RecoveryFunction
  /** Mode bits of a created file. Default: the manager's `writeMode` (0o644). */
  mode?: number
}

/** Everything an open file runs on. */
export interface FileResources {
  path: string
  fd: number
  mapping: ArrayBuffer | SharedArrayBuffer
  bytes: Uint8Array
  sidecar: Sidecar | null
  geometry: Geometry
  /** Bytes of the file allocated (writable) or present (read-only). */
  allocated: number
  size: number
  state: FileState
  recovery: OpenRecovery
  lastCheckpoint: number
  anonymous: boolean
  mappedBytes: number
}

const S_IRUSR = 0o400
const S_IWUSR = 0o200

function normalizeRecovery(recovery: OpenOptions['recovery']): Required<Recovery> {
  if (recovery === undefined) return { magic: DEFAULT_MAGIC, fn: recoverWithMagic, readOnly: false, repair: false }
  if (typeof recovery === 'function') return { magic: DEFAULT_MAGIC, fn: recovery, readOnly: false, repair: false }
  if (recovery === null || typeof recovery !== 'object') throw invalidArgument('recovery must be an object or a function')
  if (recovery.fn !== undefined && typeof recovery.fn !== 'function') throw invalidArgument('recovery.fn must be a function')
  const magic = recovery.magic ?? DEFAULT_MAGIC
  if (typeof magic.tail !== 'bigint' || typeof magic.checkpoint !== 'bigint') {
    throw invalidArgument('recovery.magic must hold bigint tail and checkpoint values')
  }
  return { magic, fn: recovery.fn ?? recoverWithMagic, readOnly: recovery.readOnly === true, repair: recovery.repair === true }
}

/** Validates the options object as a whole; field checks happen where each is used. */
export function checkOpenArguments(path: unknown, options: unknown): asserts options is OpenOptions {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgument('path must be a non-empty string')
  const create = optionsOf(options as OpenOptions | undefined).create
  if (create !== undefined && typeof create !== 'boolean') throw invalidArgument('options.create must be a boolean')
}

function statOrNull(path: string): FsStats | null {
  try {
    return statSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw fromSystemError(error, path, 'stat')
  }
}

function runRecovery(recovery: Required<Recovery>, fileSize: number, bytes: Uint8Array): RecoveryResult {
  const panic = (error: unknown): RecoveryResult => ({
    magic: recovery.magic,
    outcome: RecoveryKind.Panic,
    fileSize,
    checkpoint: -1,
    tail: 0,
    error: error instanceof Error ? error : new Error(String(error)),
  })
  let result: RecoveryResult
  try {
    result = recovery.fn(fileSize, bytes, recovery.magic)
  } catch (error) {
    return panic(error)
  }
  const valid =
    result !== null &&
    typeof result === 'object' &&
    Number.isSafeInteger(result.tail) &&
    result.tail >= 0 &&
    result.tail <= fileSize
  return valid ? result : panic(new Error('the recovery function returned no valid tail'))
}

/** The data file, open. */
interface OpenedData {
  fd: number
  /** This open created the file (it is empty, and removed again if the open fails). */
  created: boolean
  readOnly: boolean
}

/**
 * Creates `path` exclusively, or returns null when it appeared meanwhile (another process
 * created it first: it is then opened as an existing file, and its lock decides).
 */
function createData(path: string, mode: number, stats: StatsRecorder): OpenedData | null {
  return stats.time(Operation.openFile, () => {
    try {
      const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, mode)
      return { fd, created: true, readOnly: false }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null
      throw fromSystemError(error, path, 'create')
    }
  })
}

/**
 * Opens an existing regular file: read-write unless `readOnly` or its owner has no write bit
 * (or the system says no), without blocking on anything that is not a regular file.
 */
function openExistingData(path: string, stat: FsStats, readOnlyWanted: boolean, stats: StatsRecorder): OpenedData {
  checkRegularFile(path, stat)
  // Permissions are judged by the owner's mode bits, as the Go `aof` package does, so they hold for root.
  if ((stat.mode & S_IRUSR) === 0) {
    throw new AofkitError(ErrorCode.ReadPermission, `file '${path}' has no read permission`, { path })
  }
  let readOnly = readOnlyWanted || (stat.mode & S_IWUSR) === 0
  const fd = stats.time(Operation.openFile, () => {
    // O_NONBLOCK: a FIFO put at the path since the stat must not block the open.
    const flags = fsConstants.O_NONBLOCK
    try {
      return openSync(path, flags | (readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (readOnly || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) {
        throw fromSystemError(error, path, readOnly ? 'open' : 'openForWrite')
      }
    }
    // Writing is denied by more than the mode bits (a read-only mount, an ACL): read it.
    readOnly = true
    try {
      return openSync(path, flags | fsConstants.O_RDONLY)
    } catch (error) {
      throw fromSystemError(error, path, 'open')
    }
  })
  try {
    checkRegularFile(path, fstatSync(fd))
  } catch (error) {
    closeSync(fd)
    throw error
  }
  return { fd, created: false, readOnly }
}

function openData(path: string, options: OpenOptions, readOnly: boolean, mode: number, stats: StatsRecorder): OpenedData {
  // A file another process creates, or removes, at the same moment: try again a few times.
  for (let attempt = 0; ; attempt++) {
    const stat = statOrNull(path)
    if (stat !== null) {
      try {
        return openExistingData(path, stat, readOnly, stats)
      } catch (error) {
        if (attempt < 3 && options.create === true && isAofkitError(error, ErrorCode.NotFound)) continue
        throw error
      }
    }
    if (options.create !== true) {
      throw new AofkitError(ErrorCode.NotFound, `no such file '${path}' (pass create: true to create it)`, { path })
    }
    if (readOnly) throw new AofkitError(ErrorCode.NotFound, `no such file '${path}'`, { path })
    const created = createData(path, mode, stats)
    if (created !== null) return created
  }
}

/** Removes a file this open created, when the open fails after all. */
function removeCreated(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}

/** Opens (or creates) `path` as an append-only file. */
export function openFile(
  path: string,
  options: OpenOptions,
  writeMode: number,
  stats: StatsRecorder,
): FileResources {
  const startNs = nowNs()
  const recovery = normalizeRecovery(options.recovery)
  const geometryOptions = options.geometry ?? {}
  let geometry = new Geometry(geometryOptions)
  const mode = options.mode ?? writeMode
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw invalidArgument('options.mode must be file mode bits')

  const { fd, created, readOnly } = openData(path, options, recovery.readOnly, mode, stats)
  let locked = false
  let sidecar: Sidecar | null = null
  let sidecarCreated = false
  let mapping: ArrayBuffer | null = null
  try {
    if (!readOnly) {
      lockExclusive(fd, path)
      // Readers judge this writer alive by a lock it holds (liveness.ts), not by its pid.
      holdWriterLock(fd)
      locked = true
    }
    const stat = fstatSync(fd)
    const fileSize = stat.size
    if (fileSize > SIZE_UPPER_MAX) {
      throw invalidArgument(`file '${path}' (${fileSize} bytes) is larger than the largest mapping this Node.js can view`)
    }
    if (fileSize > geometry.sizeUpper) {
      if (geometryOptions.sizeUpper !== undefined && geometryOptions.sizeUpper !== 0 && !readOnly) {
        throw new AofkitError(
          ErrorCode.Shrink,
          `file '${path}' has ${fileSize} bytes, more than geometry.sizeUpper ${geometry.sizeUpper}: shrinking is prohibited`,
          { path },
        )
      }
      geometry = new Geometry({ ...geometryOptions, sizeUpper: alignToPage(fileSize) })
    }
    if (readOnly && fileSize === 0) {
      throw new AofkitError(ErrorCode.EmptyFile, `file '${path}' is empty and can only be opened read-only`, { path })
    }

    const mappedBytes = readOnly ? alignToPage(fileSize) : geometry.sizeUpper
    mapping = stats.time(Operation.map, () => native.map(fd, mappedBytes, !readOnly))
    const bytes = new Uint8Array(mapping)
    if (!readOnly && fileSize > 0) {
      // Make sure no part of the file is a hole: a store into a hole on a full disk is a SIGBUS.
      try {
        allocate(fd, 0, fileSize)
      } catch (error) {
        throw fromSystemError(error, path, 'allocate')
      }
    }

    const result = runRecovery(recovery, fileSize, bytes)
    if (native.faults(mapping) > 0) {
      // Cut while recovery read it (a writer's finish(), or anyone): it read zeros, not the file.
      throw new AofkitError(ErrorCode.Replaced, `file '${path}' was truncated while it was opened`, { path })
    }
    // The sidecar is read before anything is decided, and created only once the file opens:
    // a failed open leaves none behind.
    sidecar = readOnly ? null : Sidecar.openExisting(path, stat.uid)
    const decided = reconcile({
      bytes,
      fileSize,
      magic: recovery.magic,
      result,
      sidecar: readOnly ? readSidecarFile(path, stat.uid) : (sidecar?.read() ?? null),
      identity: fileIdentity(fd),
      readOnly,
      repair: recovery.repair,
    })
    if (decided.corrupted) throw corrupted(path, { ...result, source: 'magic', cutBytes: 0, sidecar: decided.sidecar })
    const opened: OpenRecovery = {
      ...result,
      tail: decided.size,
      checkpoint: decided.lastCheckpoint,
      source: decided.source,
      cutBytes: decided.cutBytes,
      sidecar: decided.sidecar,
    }
    const { size, state, lastCheckpoint } = decided
    if (decided.cutEnd !== null) {
      // Zero what lies past the data, and end the data with a MagicTail.
      bytes.fill(0, size, decided.cutEnd)
      bytes.set(magicBytes(recovery.magic.tail), size)
    }

    let allocated = fileSize
    if (state === FileState.Opened) {
      const needed = Math.max(geometry.sizeNow, size + MAGIC_SIZE)
      if (allocated < needed) {
        const target = alignToPage(needed)
        stats.time(Operation.truncate, () => {
          try {
            allocate(fd, allocated, target - allocated)
          } catch (error) {
            throw fromSystemError(error, path, 'allocate')
          }
        })
        allocated = target
        native.fitMapping(mapping, fd)
      }
      // A repair that ends the data at the old end of the file wrote its MagicTail past it,
      // where growing the file zeroes it again: write it once more.
      if (opened.source === 'repair' && size + MAGIC_SIZE > fileSize) bytes.set(magicBytes(recovery.magic.tail), size)
      if (sidecar === null) {
        sidecar = Sidecar.create(path, mode, stat.uid)
        sidecarCreated = true
      }
      sidecar.initialize(
        { fileState: FileState.Opened, committedSize: size, lastCheckpoint, allocatedSize: allocated, synced: decided.synced },
        fileIdentity(fd),
        bytes,
      )
      // A create is timed from the start of the open to its file being allocated.
      if (created) stats.record(Operation.create, startNs, true)
    } else if (!readOnly) {
      // A finished file: nothing will be written, so let other writers see it is free.
      unlock(fd, path)
      releaseWriterLock(fd)
      sidecar?.close()
      sidecar = null
    }
    return {
      path,
      fd,
      mapping,
      bytes,
      sidecar,
      geometry,
      allocated,
      size,
      state,
      recovery: opened,
      lastCheckpoint,
      anonymous: false,
      mappedBytes,
    }
  } catch (error) {
    if (mapping !== null) native.unmap(mapping)
    sidecar?.close()
    if (sidecarCreated) removeCreated(sidecarPath(path))
    // A file this open created, and still holds the lock of, is nobody else's: remove it.
    if (created && locked) removeCreated(path)
    closeSync(fd)
    throw error
  }
}

function corrupted(path: string, recovery: OpenRecovery): AofkitError {
  const error = new AofkitError(
    ErrorCode.Corrupted,
    `file '${path}' is corrupted: ${recovery.error?.message ?? 'recovery failed'}`,
    recovery.error === undefined ? { path } : { path, cause: recovery.error },
  )
  Object.defineProperty(error, 'recovery', { value: recovery, enumerable: true })
  return error
}

/** Resources of a memory-only file of `size` bytes (rounded up to a page). */
export function openAnonymous(name: string, size: number): FileResources {
  if (!Number.isSafeInteger(size) || size <= 0) throw invalidArgument(`size must be a positive integer, got ${String(size)}`)
  const bytesTotal = alignToPage(size)
  if (bytesTotal > SIZE_UPPER_MAX) throw invalidArgument(`size ${size} is larger than the largest buffer this Node.js can view`)
  const mapping = new SharedArrayBuffer(bytesTotal)
  const geometry = new Geometry({ sizeNow: bytesTotal, sizeUpper: bytesTotal })
  return {
    path: name,
    fd: -1,
    mapping,
    bytes: new Uint8Array(mapping),
    sidecar: null,
    geometry,
    allocated: bytesTotal,
    size: 0,
    state: FileState.Opened,
    recovery: {
      magic: DEFAULT_MAGIC,
      outcome: RecoveryKind.Empty,
      fileSize: 0,
      checkpoint: -1,
      tail: 0,
      source: 'magic',
      cutBytes: 0,
      sidecar: 'absent',
    },
    lastCheckpoint: -1,
    anonymous: true,
    mappedBytes: bytesTotal,
  }
}
