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
  if (words[ShmOffset.magic / 4] !== SHM_MAGIC || words[ShmOffset.version / 4] !== SHM_VERSION) return null
  return {
    writerPid: words[ShmOffset.writerPid / 4]!,
    fileState: words[ShmOffset.fileState / 4]!,
    committedSize: floats[ShmOffset.committedSize / 8]!,
    lastCheckpoint: floats[ShmOffset.lastCheckpoint / 8]!,
    allocatedSize: floats[ShmOffset.allocatedSize / 8]!,
    inode: floats[ShmOffset.inode / 8]!,
    device: floats[ShmOffset.device / 8]!,
    sameBoot: currentBootWords().every((word, k) => words[ShmOffset.bootId / 4 + k] === word),
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
    Atomics.store(words, ShmOffset.magic / 4, 0) // invalid while being rewritten
    words[ShmOffset.version / 4] = SHM_VERSION
    words[ShmOffset.writerPid / 4] = process.pid
    words[ShmOffset.fileState / 4] = state.fileState
    floats[ShmOffset.committedSize / 8] = state.committedSize
    floats[ShmOffset.lastCheckpoint / 8] = state.lastCheckpoint
    floats[ShmOffset.allocatedSize / 8] = state.allocatedSize
    floats[ShmOffset.inode / 8] = state.inode
    floats[ShmOffset.device / 8] = state.device
    words.set(currentBootWords(), ShmOffset.bootId / 4)
    Atomics.store(words, ShmOffset.magic / 4, SHM_MAGIC)
  }

  setFileState(fileState: number): void {
    Atomics.store(this.words, ShmOffset.fileState / 4, fileState)
  }

  setWriterPid(pid: number): void {
    Atomics.store(this.words, ShmOffset.writerPid / 4, pid)
  }

  setLastCheckpoint(offset: number): void {
    this.floats[ShmOffset.lastCheckpoint / 8] = offset
  }

  setAllocatedSize(size: number): void {
    this.floats[ShmOffset.allocatedSize / 8] = size
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
