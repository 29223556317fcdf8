/**
 * The `-shm` sidecar: a page of shared state next to a data file (`<file>-shm`, as SQLite does
 * for its WAL). The writer publishes the committed size, its pid, the file state and the last
 * checkpoint there; readers in other threads and processes follow it, and recovery uses the
 * committed size to cut a write that a killed writer left half done. The data file itself stays
 * byte-compatible with the seed. The layout is in docs/FORMAT.md.
 * @module
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs'

import * as native from '../native/binding.ts'

/** The sidecar's file name for a data file. */
export function sidecarPath(dataPath: string): string {
  return `${dataPath}-shm`
}

/** "ASHM", little-endian. */
export const SHM_MAGIC = 0x4d485341
/** Layout version. */
export const SHM_VERSION = 1
/** Bytes of the sidecar file. */
export const SHM_SIZE = 4096

/** Byte offsets of the sidecar's fields (all little-endian, naturally aligned). */
export const ShmOffset = {
  magic: 0, // u32
  version: 4, // u32
  writerPid: 8, // u32, 0 once the writer closed cleanly
  fileState: 12, // u32, a FileState
  committedSize: 16, // f64: data bytes every returned write covers
  lastCheckpoint: 24, // f64: offset of the last checkpoint() or -1
  allocatedSize: 32, // f64: bytes of the data file allocated so far
  inode: 40, // f64: the data file's inode, to notice a replaced file
  device: 48, // f64: the data file's device
  commitSequence: 56, // u32: bumped on wake-ups; a reader may futex-wait on it
  waiters: 60, // u32: readers currently waiting, by any means
  bootId: 64, // 4 x u32: the kernel's boot id when the writer opened (zeros where unknown)
  futexWaiters: 80, // u32: readers among `waiters` blocked in a futex wait on commitSequence
  writeWatchers: 84, // u32: readers among `waiters` whose watch sees writes only (fs.watch)
} as const

/**
 * Where each field of {@link ShmOffset} sits in the page's typed views: the 32-bit fields in
 * {@link Sidecar.words}, the 64-bit ones in {@link Sidecar.floats}. The one table the writer,
 * the readers and the wake-up protocol index the page with.
 */
export const ShmIndex = {
  magic: ShmOffset.magic / 4,
  version: ShmOffset.version / 4,
  writerPid: ShmOffset.writerPid / 4,
  fileState: ShmOffset.fileState / 4,
  committedSize: ShmOffset.committedSize / 8,
  lastCheckpoint: ShmOffset.lastCheckpoint / 8,
  allocatedSize: ShmOffset.allocatedSize / 8,
  inode: ShmOffset.inode / 8,
  device: ShmOffset.device / 8,
  commitSequence: ShmOffset.commitSequence / 4,
  waiters: ShmOffset.waiters / 4,
  bootId: ShmOffset.bootId / 4,
  futexWaiters: ShmOffset.futexWaiters / 4,
  writeWatchers: ShmOffset.writeWatchers / 4,
} as const

let bootWords: Int32Array | null = null

/** The kernel's boot id as four 32-bit words (zeros where the platform has none). */
function currentBootWords(): Int32Array {
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
  /**
   * True when the writer that left this page ran since the last boot. Only then did its page
   * cache, and with it every store it made to the data file and to this page, survive.
   */
  sameBoot: boolean
}

/** Whether process `pid` exists (a sidecar's writer, for example); 0 and below never do. */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The fields of a sidecar page, or null when it holds none (new, foreign or torn). */
export function parseSidecar(words: Int32Array, floats: Float64Array): SidecarSnapshot | null {
  if (words[ShmIndex.magic] !== SHM_MAGIC || words[ShmIndex.version] !== SHM_VERSION) return null
  return {
    writerPid: words[ShmIndex.writerPid]!,
    fileState: words[ShmIndex.fileState]!,
    committedSize: floats[ShmIndex.committedSize]!,
    lastCheckpoint: floats[ShmIndex.lastCheckpoint]!,
    allocatedSize: floats[ShmIndex.allocatedSize]!,
    inode: floats[ShmIndex.inode]!,
    device: floats[ShmIndex.device]!,
    sameBoot: currentBootWords().every((word, k) => words[ShmIndex.bootId + k] === word),
  }
}

/**
 * Reads the sidecar of `dataPath` as it is on disk, without creating, locking, mapping or
 * changing anything: for tools that look at files other processes write. Null when there is
 * none or it holds no valid page. Check `inode` and `device` against the data file before
 * trusting it.
 */
export function readSidecarFile(dataPath: string): SidecarSnapshot | null {
  let page: Buffer
  try {
    page = readFileSync(sidecarPath(dataPath))
  } catch {
    return null
  }
  if (page.length < SHM_SIZE) return null
  // A fresh, aligned copy, so the fields read through the same views as a mapped page.
  const copy = new ArrayBuffer(SHM_SIZE)
  new Uint8Array(copy).set(page.subarray(0, SHM_SIZE))
  return parseSidecar(new Int32Array(copy), new Float64Array(copy))
}

/** A mapped sidecar. Field access is through typed views over the shared page. */
export class Sidecar {
  readonly fd: number
  readonly mapping: ArrayBuffer
  /** 32-bit words of the page (futex words live here). */
  readonly words: Int32Array
  /** 64-bit float fields of the page. */
  readonly floats: Float64Array

  private constructor(fd: number, mapping: ArrayBuffer) {
    this.fd = fd
    this.mapping = mapping
    this.words = new Int32Array(mapping, 0, SHM_SIZE / 4)
    this.floats = new Float64Array(mapping, 0, SHM_SIZE / 8)
  }

  /** Opens (creating if needed) the sidecar of `dataPath` for reading and writing. */
  static open(dataPath: string, mode: number): Sidecar {
    const path = sidecarPath(dataPath)
    // Read-write, created if missing, never truncated, and not O_APPEND: the writer reads a
    // byte, or rewrites it in place, to raise an inotify event for readers in other processes.
    const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT, mode)
    try {
      if (fstatSync(fd).size < SHM_SIZE) native.fallocate(fd, 0, SHM_SIZE)
      return new Sidecar(fd, native.map(fd, SHM_SIZE, true))
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }

  /** What the page holds, or null when it holds no valid sidecar (new, foreign or torn). */
  read(): SidecarSnapshot | null {
    return parseSidecar(this.words, this.floats)
  }

  /** Claims the page for a new writer of the data file with the given identity. */
  initialize(state: { fileState: number; committedSize: number; lastCheckpoint: number; allocatedSize: number; inode: number; device: number }): void {
    const { words, floats } = this
    Atomics.store(words, ShmIndex.magic, 0) // invalid while being rewritten
    words[ShmIndex.version] = SHM_VERSION
    words[ShmIndex.writerPid] = process.pid
    words[ShmIndex.fileState] = state.fileState
    floats[ShmIndex.committedSize] = state.committedSize
    floats[ShmIndex.lastCheckpoint] = state.lastCheckpoint
    floats[ShmIndex.allocatedSize] = state.allocatedSize
    floats[ShmIndex.inode] = state.inode
    floats[ShmIndex.device] = state.device
    words.set(currentBootWords(), ShmIndex.bootId)
    Atomics.store(words, ShmIndex.magic, SHM_MAGIC)
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
