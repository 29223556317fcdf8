/**
 * Opening a data file: permissions by mode bits, the writer's exclusive lock, the mapping,
 * recovery and its reconciliation with the `-shm` sidecar. Produces the resources an
 * AppendOnlyFile runs on; the file class itself holds no open logic.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, statSync } from 'node:fs'
import type { Stats as FsStats } from 'node:fs'

import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { lockExclusive, unlock } from '../io/lock.ts'
import * as native from '../native/binding.ts'
import { FileState } from './file-state.ts'
import { Geometry, SIZE_UPPER_MAX, alignToPage } from './geometry.ts'
import type { GeometryOptions } from './geometry.ts'
import { DEFAULT_MAGIC, MAGIC_SIZE, magicBytes } from './magic.ts'
import type { Magic } from './magic.ts'
import { RecoveryKind, lastNonZero, readMagic, recoverWithMagic } from './recovery.ts'
import type { RecoveryFunction, RecoveryResult } from './recovery.ts'
import { Sidecar } from './shm.ts'
import { Operation, nowNs } from './stats.ts'
import type { StatsRecorder } from './stats.ts'

/** How to recover an existing file on open (the seed's Recovery). */
export interface Recovery {
  /** The magic numbers. Default: the seed's. */
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

/** The default recovery: the seed's magic numbers and {@link recoverWithMagic}. */
export const RecoveryDefault: Recovery = Object.freeze({ magic: DEFAULT_MAGIC, fn: recoverWithMagic })
/** Opens without repairing anything: the file is only read (the seed's RecoveryReadOnly). */
export const RecoveryReadOnly: Recovery = Object.freeze({ magic: DEFAULT_MAGIC, fn: recoverWithMagic, readOnly: true })

/** What recovery found on open, and what open did about it. */
export interface OpenRecovery extends RecoveryResult {
  /** Where the committed size came from: the data's magic numbers or the sidecar. */
  source: 'magic' | 'sidecar' | 'repair'
  /** Bytes of a torn or corrupt tail that open cut away (zeroed), 0 when none. */
  cutBytes: number
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
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw invalidArgument('options must be an object')
  }
  const create = (options as OpenOptions | undefined)?.create
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

/** Zeroes everything from `size` to the last non-zero byte and writes a MagicTail at `size`. */
function cutTail(bytes: Uint8Array, fileSize: number, size: number, magic: Magic): number {
  const dataEnd = lastNonZero(bytes, fileSize) + 1
  const cut = Math.max(0, dataEnd - size)
  if (cut > 0) bytes.fill(0, size, dataEnd)
  bytes.set(magicBytes(magic.tail), size)
  return cut
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

  let stat = statOrNull(path)
  let created = false
  let fd = -1
  if (stat === null) {
    if (options.create !== true) {
      throw new AofkitError(ErrorCode.NotFound, `no such file '${path}' (pass create: true to create it)`, { path })
    }
    if (recovery.readOnly) throw new AofkitError(ErrorCode.NotFound, `no such file '${path}'`, { path })
    fd = stats.time(Operation.openFile, () => {
      try {
        return openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, mode)
      } catch (error) {
        throw fromSystemError(error, path, 'create')
      }
    })
    created = true
    stat = fstatSync(fd)
  } else if (stat.isDirectory()) {
    throw new AofkitError(ErrorCode.IsDirectory, `path '${path}' is a directory`, { path })
  }

  // Permissions are judged by the owner's mode bits, as the seed does, so they hold for root.
  if ((stat.mode & S_IRUSR) === 0) {
    if (fd >= 0) closeSync(fd)
    throw new AofkitError(ErrorCode.ReadPermission, `file '${path}' has no read permission`, { path })
  }
  let readOnly = recovery.readOnly || (stat.mode & S_IWUSR) === 0
  if (fd < 0) {
    fd = stats.time(Operation.openFile, () => {
      try {
        return openSync(path, readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (readOnly || (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS')) {
          throw fromSystemError(error, path, readOnly ? 'open' : 'openForWrite')
        }
      }
      // Writing is denied by more than the mode bits (a read-only mount, an ACL): read it.
      readOnly = true
      try {
        return openSync(path, fsConstants.O_RDONLY)
      } catch (error) {
        throw fromSystemError(error, path, 'open')
      }
    })
  }

  let sidecar: Sidecar | null = null
  let mapping: ArrayBuffer | null = null
  try {
    if (!readOnly) {
      lockExclusive(fd, path)
    }
    stat = fstatSync(fd)
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
      native.fallocate(fd, 0, fileSize)
    }

    const result = runRecovery(recovery, fileSize, bytes)
    const opened: OpenRecovery = { ...result, source: 'magic', cutBytes: 0 }
    let size = result.tail
    let state: FileState = readOnly ? FileState.EOF : FileState.Opened
    let lastCheckpoint = result.checkpoint

    if (!readOnly) {
      sidecar = Sidecar.open(path, mode)
      const prior = sidecar.read()
      const sameFile = prior !== null && prior.inode === stat.ino && prior.device === stat.dev
      // The committed size is only needed (and only trusted) when a writer died with the file
      // open during this boot: then its page cache survived, every store it made is in the data
      // file and in the sidecar, and the sidecar's committed size is exact. After a reboot (a
      // power loss) the sidecar may be older or newer than the data: magic numbers alone decide.
      const trusted =
        sameFile &&
        prior.sameBoot &&
        prior.fileState === FileState.Opened &&
        prior.committedSize <= fileSize - MAGIC_SIZE
      if (sameFile && lastCheckpoint < 0) lastCheckpoint = checkpointAt(bytes, prior.lastCheckpoint, fileSize, recovery.magic)
      if (result.outcome === RecoveryKind.Panic) throw corrupted(path, opened)
      if (trusted && !(result.outcome === RecoveryKind.Tail && result.tail === prior.committedSize)) {
        // Magic numbers cannot tell a torn write from data: a copy that began with zeros wipes
        // the MagicTail and leaves nothing torn to see (Empty, or an earlier checkpoint looks
        // like the end), and a record holding a magic number, copied up to it, looks like a
        // write that ended there. The exact committed size settles it: what lies past it is
        // the write in flight, torn or complete but unpublished, and is cut.
        size = prior.committedSize
        opened.source = 'sidecar'
        opened.cutBytes = cutTail(bytes, fileSize, size, recovery.magic)
        if (lastCheckpoint + MAGIC_SIZE > size) lastCheckpoint = checkpointAt(bytes, prior.lastCheckpoint, size, recovery.magic)
      } else {
        switch (result.outcome) {
          case RecoveryKind.Corrupted:
            if (!recovery.repair) throw corrupted(path, opened)
            opened.source = 'repair'
            opened.cutBytes = cutTail(bytes, fileSize, size, recovery.magic)
            if (lastCheckpoint + MAGIC_SIZE > size) lastCheckpoint = -1
            break
          case RecoveryKind.Checkpoint:
            state = FileState.EOF
            break
          default:
            break
        }
      }
      opened.tail = size
      opened.checkpoint = lastCheckpoint
      if (state === FileState.EOF) {
        // A finished file: nothing will be written, so let other writers see it is free.
        unlock(fd, path)
        sidecar.close()
        sidecar = null
      }
    } else if (result.outcome === RecoveryKind.Panic) {
      throw corrupted(path, opened)
    }

    let allocated = fileSize
    if (state === FileState.Opened) {
      const needed = Math.max(geometry.sizeNow, size + MAGIC_SIZE)
      if (allocated < needed) {
        const target = alignToPage(needed)
        stats.time(Operation.truncate, () => {
          try {
            native.fallocate(fd, allocated, target - allocated)
          } catch (error) {
            throw fromSystemError(error, path, 'allocate')
          }
        })
        allocated = target
      }
      // A create is timed from the start of the open to its file being allocated.
      if (created) stats.record(Operation.create, startNs, true)
      sidecar?.initialize({
        fileState: FileState.Opened,
        committedSize: size,
        lastCheckpoint,
        allocatedSize: allocated,
        inode: stat.ino,
        device: stat.dev,
      })
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
    closeSync(fd)
    throw error
  }
}

/** `offset` if a MagicCheckpoint sits there inside the first `end` bytes, else -1. */
function checkpointAt(bytes: Uint8Array, offset: number, end: number, magic: Magic): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + MAGIC_SIZE > end) return -1
  return readMagic(bytes, offset) === magic.checkpoint ? offset : -1
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
    },
    lastCheckpoint: -1,
    anonymous: true,
    mappedBytes: bytesTotal,
  }
}
