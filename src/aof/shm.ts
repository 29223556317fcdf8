/**
 * The `-shm` sidecar: a page of shared state next to a data file (`<file>-shm`, as SQLite does
 * for its WAL). The writer publishes the committed size, its pid, the file state and the last
 * checkpoint there; readers in other threads and processes follow it, and recovery uses the
 * committed size to cut a write that a killed writer left half done. The data file itself stays
 * byte-compatible with the Go `aof` package. The layout is in `shm-layout.ts` and
 * docs/FORMAT.md; the committed size's ordering in `committed-size.ts`.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync, readSync, unlinkSync } from 'node:fs'

import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import * as native from '../native/binding.ts'
import { allocate } from './allocate.ts'
import { loadCommittedSize, publishCommittedSize } from './committed-size.ts'
import { HEAD_SIZE, SHM_MAGIC, SHM_SIZE, SHM_VERSION, SYNC_RECORD_OFFSET, SYNC_RECORD_SIZE, ShmIndex, ShmOffset } from './shm-layout.ts'
import { fileIdentity, sameFile } from './sidecar-identity.ts'
import type { FileIdentity } from './sidecar-identity.ts'

/** The sidecar's file name for a data file. */
export function sidecarPath(dataPath: string): string {
  return `${dataPath}-shm`
}

export { HEAD_SIZE, SHM_MAGIC, SHM_SIZE, SHM_VERSION, SYNC_RECORD_OFFSET, SYNC_RECORD_SIZE, ShmIndex, ShmOffset } from './shm-layout.ts'

/**
 * The sidecar page of the data file open as `fd` at `dataPath` when it was written for that
 * very file ({@link sameFile}), else null; with the file's identity. Reads the file's first
 * bytes.
 */
export function readOwnSidecar(dataPath: string, fd: number, dataOwner?: number): { page: SidecarSnapshot; identity: FileIdentity } | null {
  const page = readSidecarFile(dataPath, dataOwner)
  if (page === null) return null
  const identity = fileIdentity(fd)
  const head = new Uint8Array(HEAD_SIZE)
  let count: number
  try {
    count = readSync(fd, head, 0, HEAD_SIZE, 0)
  } catch {
    return null
  }
  return sameFile(page, identity, head, count) ? { page, identity } : null
}

let bootWords: Int32Array | null = null

/** The kernel's boot id as four 32-bit words (zeros where the platform has none). */
export function currentBootWords(): Int32Array {
  if (bootWords === null) {
    bootWords = new Int32Array(4)
    try {
      const hex = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').replace(/[^0-9a-f]/gi, '')
      if (hex.length === 32) for (let k = 0; k < 4; k++) bootWords[k] = Number.parseInt(hex.slice(k * 8, k * 8 + 8), 16) | 0
    } catch {
      // not Linux: leave zeros
    }
  }
  return bootWords
}

/** What a sidecar said when it was opened. */
export interface SidecarSnapshot {
  writerPid: number
  fileState: number
  committedSize: number
  lastCheckpoint: number
  allocatedSize: number
  inode: number
  device: number
  birthSeconds: number
  birthNanoseconds: number
  /** The data file's first bytes as the writer stored them (`headLength` of them, a copy). */
  head: Uint8Array
  /**
   * True when the writer that left this page ran since the last boot. Only then did its page
   * cache, and with it every store it made to the data file and to this page, survive.
   */
  sameBoot: boolean
  /** The mount the writer opened the data file on, 0 where unknown. */
  mountId: number
  /** What the writer's last `sync()` made durable, which survives a power cut that the committed size does not. */
  synced: SyncedRecord
}

/**
 * A sync's record in the sidecar (docs/FORMAT.md, "After a power cut"). With `checked` false,
 * the page was synced after the data: the first `size` data bytes are durable. With `checked`
 * true, the page was written before the flush that made the data durable: the first `from`
 * bytes are durable (an earlier sync made them so), and the first `size` once the data
 * `[from, size)` has the check `check`.
 */
export interface SyncedRecord {
  size: number
  from: number
  check: number
  checked: boolean
}

/** The record of a file never synced. */
export const NOT_SYNCED: SyncedRecord = { size: 0, from: 0, check: 0, checked: false }

export { processAlive } from './liveness.ts'

/** The `head` bytes of a page, as many as `headLength` says (none when it says more than fit). */
function headOf(words: Int32Array): Uint8Array {
  const length = words[ShmIndex.headLength]! >>> 0
  if (length > HEAD_SIZE) return new Uint8Array(0)
  return new Uint8Array(words.buffer, words.byteOffset + ShmOffset.head, length).slice()
}

/** The fields of a sidecar page, or null when it holds none (new, foreign or torn). */
export function parseSidecar(words: Int32Array, floats: Float64Array): SidecarSnapshot | null {
  if (words[ShmIndex.magic] !== SHM_MAGIC || words[ShmIndex.version] !== SHM_VERSION) return null
  return {
    writerPid: words[ShmIndex.writerPid]!,
    fileState: words[ShmIndex.fileState]!,
    committedSize: loadCommittedSize(words),
    lastCheckpoint: floats[ShmIndex.lastCheckpoint]!,
    allocatedSize: floats[ShmIndex.allocatedSize]!,
    inode: floats[ShmIndex.inode]!,
    device: floats[ShmIndex.device]!,
    birthSeconds: floats[ShmIndex.birthSeconds]!,
    birthNanoseconds: words[ShmIndex.birthNanoseconds]! >>> 0,
    head: headOf(words),
    sameBoot: currentBootWords().every((word, k) => words[ShmIndex.bootId + k] === word),
    mountId: floats[ShmIndex.mountId]!,
    synced: {
      size: floats[ShmIndex.syncedSize]!,
      from: floats[ShmIndex.syncedFrom]!,
      check: words[ShmIndex.syncedCheck]! >>> 0,
      checked: words[ShmIndex.syncedChecked] === 1,
    },
  }
}

/** Why `<file>-shm` is not a sidecar aofkit may use. */
function badSidecar(path: string, why: string, cause?: unknown): AofkitError {
  return new AofkitError(
    ErrorCode.BadSidecar,
    `'${path}' is not a sidecar of its data file (${why}): remove it if no writer runs`,
    cause === undefined ? { path } : { path, cause },
  )
}

/**
 * Opens `<file>-shm` without following a symbolic link and without blocking (a FIFO), and
 * checks that it is a sidecar aofkit wrote: a regular file with one link, owned by one of
 * `owners` (the data file's owner or this process's user), of 0 or {@link SHM_SIZE} bytes.
 * Null when there is none; throws `ERR_AOF_BAD_SIDECAR` when something else stands there.
 */
function openChecked(path: string, flags: number, owners: readonly number[]): { fd: number; size: number } | null {
  let fd: number
  try {
    fd = openSync(path, flags | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    if (code === 'ELOOP') throw badSidecar(path, 'a symbolic link', error)
    if (code === 'EISDIR') throw badSidecar(path, 'a directory', error)
    if (code === 'ENXIO') throw badSidecar(path, 'a socket or FIFO', error)
    throw fromSystemError(error, path, (flags & (fsConstants.O_WRONLY | fsConstants.O_RDWR)) === 0 ? 'open' : 'openForWrite')
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw badSidecar(path, 'not a regular file')
    if (stat.nlink !== 1) throw badSidecar(path, `${stat.nlink} hard links`)
    if (!owners.includes(stat.uid)) throw badSidecar(path, `owned by uid ${stat.uid}`)
    if (stat.size !== 0 && stat.size !== SHM_SIZE) throw badSidecar(path, `${stat.size} bytes`)
    return { fd, size: stat.size }
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/** The users whose sidecar a process may use for a data file owned by `dataOwner`. */
function ownersOf(dataOwner: number): number[] {
  return [dataOwner, process.geteuid?.() ?? dataOwner]
}

/**
 * Reads the sidecar of `dataPath` as it is on disk, without creating, locking, mapping or
 * changing anything: for tools that look at files other processes write. Null when there is
 * none or it holds no valid page; throws `ERR_AOF_BAD_SIDECAR` when what stands there is not
 * a sidecar (a link, a FIFO, another user's file). Check its identity against the data file
 * before trusting it.
 */
export function readSidecarFile(dataPath: string, dataOwner: number = process.geteuid?.() ?? 0): SidecarSnapshot | null {
  const opened = openChecked(sidecarPath(dataPath), fsConstants.O_RDONLY, ownersOf(dataOwner))
  if (opened === null) return null
  try {
    if (opened.size < SHM_SIZE) return null
    // An aligned copy, so the fields read through the same views as a mapped page.
    const copy = new Uint8Array(new ArrayBuffer(SHM_SIZE))
    let done = 0
    while (done < SHM_SIZE) {
      const read = readSync(opened.fd, copy, done, SHM_SIZE - done, done)
      if (read === 0) return null
      done += read
    }
    return parseSidecar(new Int32Array(copy.buffer), new Float64Array(copy.buffer))
  } finally {
    closeSync(opened.fd)
  }
}

/** A mapped sidecar. Field access is through typed views over the shared page. */
export class Sidecar {
  readonly fd: number
  readonly mapping: ArrayBuffer
  /** 32-bit words of the page (futex words live here). */
  readonly words: Int32Array
  /** 64-bit float fields of the page. */
  readonly floats: Float64Array
  /** The page's bytes. */
  readonly bytes: Uint8Array
  /** A sync's record, built by {@link syncRecord}. */
  readonly #record = new Float64Array(SYNC_RECORD_SIZE / 8)
  readonly #recordBytes = new Uint8Array(this.#record.buffer)
  readonly #recordWords = new Uint32Array(this.#record.buffer)

  private constructor(fd: number, mapping: ArrayBuffer) {
    this.fd = fd
    this.mapping = mapping
    this.words = new Int32Array(mapping, 0, SHM_SIZE / 4)
    this.floats = new Float64Array(mapping, 0, SHM_SIZE / 8)
    this.bytes = new Uint8Array(mapping, 0, SHM_SIZE)
  }

  static #map(fd: number, size: number): Sidecar {
    try {
      if (size < SHM_SIZE) allocate(fd, 0, SHM_SIZE)
      return new Sidecar(fd, native.map(fd, SHM_SIZE, true))
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }

  /**
   * Opens the existing sidecar of `dataPath` for a reader: read-write, so that it can count
   * itself among the waiters, or read-only when this user may not write it (a writer running
   * as another user made it 0644); null when there is none. Checked as {@link openExisting}.
   */
  static openForReader(dataPath: string, dataOwner: number): { sidecar: Sidecar; writable: boolean } | null {
    const path = sidecarPath(dataPath)
    const owners = ownersOf(dataOwner)
    let opened: { fd: number; size: number } | null
    let writable = true
    try {
      opened = openChecked(path, fsConstants.O_RDWR, owners)
    } catch (error) {
      const code = ((error as { cause?: { code?: unknown } }).cause ?? error as { code?: unknown }).code
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error
      writable = false
      opened = openChecked(path, fsConstants.O_RDONLY, owners)
    }
    // A page its writer has not allocated yet holds nothing to follow.
    if (opened === null) return null
    if (opened.size < SHM_SIZE) {
      closeSync(opened.fd)
      return null
    }
    try {
      return { sidecar: new Sidecar(opened.fd, native.map(opened.fd, SHM_SIZE, writable)), writable }
    } catch (error) {
      closeSync(opened.fd)
      throw error
    }
  }

  /**
   * Opens the existing sidecar of `dataPath` read-write, or null when there is none. It is
   * opened without following links and refused (`ERR_AOF_BAD_SIDECAR`) unless it is a regular
   * file of `dataOwner` or of this process's user: the writer stores into it.
   */
  static openExisting(dataPath: string, dataOwner: number): Sidecar | null {
    const opened = openChecked(sidecarPath(dataPath), fsConstants.O_RDWR, ownersOf(dataOwner))
    return opened === null ? null : Sidecar.#map(opened.fd, opened.size)
  }

  /**
   * Creates the sidecar of `dataPath`, never over an existing file or link. If its page
   * cannot be allocated (a full disk), it is removed again before the error is thrown.
   */
  static create(dataPath: string, mode: number, dataOwner: number): Sidecar {
    const path = sidecarPath(dataPath)
    let fd: number
    try {
      // Read-write and not O_APPEND: the writer reads a byte, or rewrites it in place, to
      // raise an inotify event for readers in other processes.
      fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(error, path, 'create')
      const existing = Sidecar.openExisting(dataPath, dataOwner)
      if (existing === null) throw fromSystemError(error, path, 'create')
      return existing
    }
    try {
      return Sidecar.#map(fd, 0)
    } catch (error) {
      try {
        unlinkSync(path)
      } catch {
        // already gone
      }
      throw fromSystemError(error, path, 'allocate')
    }
  }

  /** What the page holds, or null when it holds no valid sidecar (new, foreign or torn). */
  read(): SidecarSnapshot | null {
    return parseSidecar(this.words, this.floats)
  }

  /**
   * Claims the page for a new writer of the data file `identity`, whose first committed
   * bytes `data` holds.
   */
  initialize(
    state: { fileState: number; committedSize: number; lastCheckpoint: number; allocatedSize: number; synced: SyncedRecord },
    identity: FileIdentity,
    data: Uint8Array,
  ): void {
    const { words, floats } = this
    Atomics.store(words, ShmIndex.magic, 0) // invalid while being rewritten
    words[ShmIndex.version] = SHM_VERSION
    words[ShmIndex.writerPid] = process.pid
    words[ShmIndex.fileState] = state.fileState
    publishCommittedSize(words, state.committedSize)
    floats[ShmIndex.lastCheckpoint] = state.lastCheckpoint
    floats[ShmIndex.allocatedSize] = state.allocatedSize
    floats[ShmIndex.inode] = identity.inode
    floats[ShmIndex.device] = identity.device
    floats[ShmIndex.birthSeconds] = identity.birthSeconds
    words[ShmIndex.birthNanoseconds] = identity.birthNanoseconds
    floats[ShmIndex.mountId] = identity.mountId
    this.#storeSynced(state.synced)
    words[ShmIndex.headLength] = 0
    this.noteHead(data, state.committedSize)
    words.set(currentBootWords(), ShmIndex.bootId)
    Atomics.store(words, ShmIndex.magic, SHM_MAGIC)
  }

  /**
   * Copies the data's first bytes, up to `end` (the size about to be committed), into `head`,
   * before that size is published: recovery compares them with the data file to tell this
   * file from another put at its path. The writer calls it while the committed size is below
   * {@link HEAD_SIZE}.
   */
  noteHead(data: Uint8Array, end: number): void {
    const length = Math.min(end, HEAD_SIZE)
    this.bytes.set(data.subarray(0, length), ShmOffset.head)
    Atomics.store(this.words, ShmIndex.headLength, length)
  }

  /** The file state the page holds now. */
  fileState(): number {
    return Atomics.load(this.words, ShmIndex.fileState)
  }

  setFileState(fileState: number): void {
    Atomics.store(this.words, ShmIndex.fileState, fileState)
  }

  setWriterPid(pid: number): void {
    Atomics.store(this.words, ShmIndex.writerPid, pid)
  }

  setLastCheckpoint(offset: number): void {
    this.floats[ShmIndex.lastCheckpoint] = offset
  }

  /** Records that the first `size` data bytes are durable; the caller then syncs this page. */
  setSyncedSize(size: number): void {
    this.#storeSynced({ ...NOT_SYNCED, size })
  }

  /**
   * The bytes of the page from {@link SYNC_RECORD_OFFSET} on as they would be with `synced` as
   * its record (the page is not changed): what a sync writes at that offset in one write. The
   * view is reused by the next call.
   */
  syncRecord(synced: SyncedRecord): Uint8Array {
    const floats = this.#record
    floats[(ShmOffset.syncedSize - SYNC_RECORD_OFFSET) / 8] = synced.size
    floats[(ShmOffset.mountId - SYNC_RECORD_OFFSET) / 8] = this.floats[ShmIndex.mountId]!
    floats[(ShmOffset.syncedFrom - SYNC_RECORD_OFFSET) / 8] = synced.from
    const words = this.#recordWords
    words[(ShmOffset.syncedCheck - SYNC_RECORD_OFFSET) / 4] = synced.check
    words[(ShmOffset.syncedChecked - SYNC_RECORD_OFFSET) / 4] = synced.checked ? 1 : 0
    return this.#recordBytes
  }

  #storeSynced(synced: SyncedRecord): void {
    this.bytes.set(this.syncRecord(synced), SYNC_RECORD_OFFSET)
  }

  setAllocatedSize(size: number): void {
    this.floats[ShmIndex.allocatedSize] = size
  }

  /** Unmaps and closes. Safe to call twice. */
  close(): void {
    native.unmap(this.mapping)
    try {
      closeSync(this.fd)
    } catch {
      // already closed
    }
  }
}
