/**
 * The only module that loads the native addon. Everything else imports the typed functions
 * below. The addon makes syscalls and nothing else: see src/native/README.md.
 * @module
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getSystemErrorName } from 'node:util'

import { AofkitError, ErrorCode } from '../errors.ts'

/** The raw addon surface. Its functions use no `this`. */
interface RawBinding {
  map: (fd: number, length: number, writable: boolean) => ArrayBuffer
  fitMapping: (mapping: ArrayBuffer, fd: number, cutHere?: boolean) => number
  faults: (mapping: ArrayBuffer) => number
  mappingJobs: (mapping: ArrayBuffer) => number
  unmap: (mapping: ArrayBuffer) => void
  msync: (mapping: ArrayBuffer, offset: number, length: number, wait: boolean) => void
  msyncAsync: (mapping: ArrayBuffer, offset: number, length: number, wait: boolean) => Promise<number>
  madviseAsync: (mapping: ArrayBuffer, offset: number, length: number, advice: number) => Promise<number>
  seekHole: (fd: number, offset: number) => number
  mappingAdvising: (mapping: ArrayBuffer) => number
  syncChainAsync: (
    mapping: ArrayBuffer,
    fd: number,
    sidecarFd: number,
    bytes: Uint8Array,
    position: number,
    offset: number,
    length: number,
    advice: number,
    sidecarFirst: boolean,
  ) => Promise<number>
  adviceConstants: { populateWrite: number }
  fallocate: (fd: number, offset: number, length: number) => number
  allocate: (fd: number, offset: number, length: number, zeroFill: boolean) => number
  allocateAsync: (fd: number, offset: number, length: number, zeroFill: boolean) => [Promise<number>, AllocationHandle]
  waitAllocation: (allocation: AllocationHandle) => number
  ftruncate: (fd: number, length: number) => number
  fdatasync: (fd: number) => number
  fdatasyncAsync: (fd: number) => Promise<number>
  syncFileRangeAsync: (fd: number, offset: number, length: number) => Promise<number>
  flock: (fd: number, operation: number) => number
  fileSystemType: (fd: number) => number
  mountId: (fd: number) => number
  pread: (fd: number, target: Uint8Array, offset: number, length: number, position: number) => number
  lockConstants: { exclusive: number; unlock: number; nonBlocking: number; read: number; write: number; release: number }
  ofdLock: (fd: number, start: number, length: number, type: number) => number
  ofdLockHeld: (fd: number, start: number, length: number, type: number) => boolean
  futexWake: (words: Int32Array, index: number, count?: number) => number
  pageSize: number
  /** Linux only. */
  Watch?: new (path: string, callback: () => void) => FileWatch
}

/** An allocation running on the libuv pool, as allocateAsync returns it (opaque). */
export interface AllocationHandle {
  readonly __allocation: never
}

/** An inotify watch whose callback runs from the event loop; see watch.cc. */
export interface FileWatch {
  close(): void
  ref(): FileWatch
  unref(): FileWatch
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * Loads the addon with node-gyp-build: a binary compiled in this package (`build/Release`)
 * first, else the prebuilt one in `prebuilds/<platform>-<arch>/` that fits (its libc tag
 * included). Failing that, ERR_AOF_ADDON_UNAVAILABLE, saying what to run.
 */
function load(): RawBinding {
  const where = `${process.platform}-${process.arch}, Node ${process.version}`
  // Linux only: on macOS fsync does not reach the platter (only F_FULLFSYNC does), so sync()
  // could not keep its promise there.
  if (process.platform !== 'linux') {
    throw new AofkitError(ErrorCode.AddonUnavailable, `aofkit runs on Linux only; this is ${where}`)
  }
  const require = createRequire(import.meta.url)
  try {
    const nodeGypBuild = require('node-gyp-build') as (root: string) => RawBinding
    return nodeGypBuild(packageRoot)
  } catch (error) {
    throw new AofkitError(
      ErrorCode.AddonUnavailable,
      `aofkit has no native addon for ${where}: no prebuilt binary fits and none was compiled ` +
        `(installed with --ignore-scripts?). Run \`npm rebuild aofkit\` (needs python3, make and a C++ compiler)`,
      { cause: error },
    )
  }
}

const raw = load()

/** Fills in Node's `code` (for example `ENOSPC`) from the negative errno the addon attaches. */
function withCode(error: unknown): unknown {
  if (error instanceof Error) {
    const errno = (error as { errno?: unknown }).errno
    if (typeof errno === 'number' && (error as { code?: unknown }).code === undefined) {
      Object.defineProperty(error, 'code', { value: getSystemErrorName(errno), enumerable: true })
    }
  }
  return error
}

function sync<A extends unknown[], R>(call: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return call(...args)
    } catch (error) {
      throw withCode(error)
    }
  }
}

function async<A extends unknown[], R>(call: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    try {
      return await call(...args)
    } catch (error) {
      throw withCode(error)
    }
  }
}

/** The system page size in bytes. */
export const pageSize: number = raw.pageSize
/** madvise() advice values; `populateWrite` is -1 where the kernel headers lack it. */
export const advice = raw.adviceConstants
/** flock() operations. */
export const lock = raw.lockConstants

/**
 * Reserves `length` bytes and maps `fd` (MAP_SHARED) over as much of them as the file has;
 * the rest reads as zeros (never SIGBUS) until {@link fitMapping} maps the file over it. The
 * ArrayBuffer is detached by unmap(). EFBIG when it is longer than a buffer Node.js can view.
 */
export const map: (fd: number, length: number, writable: boolean) => ArrayBuffer = sync(raw.map)
/**
 * After the file open as `fd` (the mapped file) grew or shrank: maps the file over what it now
 * has and zeros over the rest. Returns the length backed by the file. Pages the file lost count
 * in {@link faults}, unless `cutHere` says the caller cut the file itself (finish()).
 */
export const fitMapping: (mapping: ArrayBuffer, fd: number, cutHere?: boolean) => number = sync(raw.fitMapping)
/**
 * Pages of the mapping that the file lost under it (truncated by someone else) and that read
 * as zeros since: where touched, a fault there would have been a SIGBUS; or found missing by
 * {@link fitMapping}. Not zero means the bytes seen through
 * the mapping may be zeros that were never written.
 */
export const faults: (mapping: ArrayBuffer) => number = sync(raw.faults)
/**
 * madviseAsync calls on the mapping whose madvise has not returned yet on the pool: known at
 * once, without the event loop turning.
 */
export function mappingAdvising(mapping: ArrayBuffer): number {
  try {
    return raw.mappingAdvising(mapping)
  } catch (error) {
    throw withCode(error)
  }
}
/** Asynchronous calls (msyncAsync, madviseAsync) in flight on the mapping. */
export const mappingJobs: (mapping: ArrayBuffer) => number = sync(raw.mappingJobs)
/**
 * Detaches the buffer and unmaps; with asynchronous calls in flight on it, the memory is
 * unmapped when the last returns. Idempotent.
 */
export const unmap: (mapping: ArrayBuffer) => void = sync(raw.unmap)
/** msync a range; `wait` selects MS_SYNC over MS_ASYNC. */
export const msync: (mapping: ArrayBuffer, offset: number, length: number, wait: boolean) => void = sync(raw.msync)
/** msync on the libuv pool. */
export const msyncAsync: (mapping: ArrayBuffer, offset: number, length: number, wait: boolean) => Promise<number> =
  async(raw.msyncAsync)
/** madvise on the libuv pool (used to prefault pages ahead of the writer). */
export const madviseAsync: (
  mapping: ArrayBuffer,
  offset: number,
  length: number,
  adviceValue: number,
) => Promise<number> = async(raw.madviseAsync)
/**
 * One job on the libuv pool instead of three hops. By default: fdatasync(fd); once that
 * succeeded and `sidecarFd` is not -1, pwrite(sidecarFd, bytes, position) (at most 32 bytes)
 * and fdatasync(sidecarFd). With `sidecarFirst`: the pwrite first, then sync_file_range of the
 * written bytes, waiting until the device has them (not flushed from its cache), then
 * fdatasync(fd), whose cache flush covers them. Then, when `length` is not 0, madvise of
 * `[offset, offset + length)` of `mapping` (the file's mapping) with `advice`, its failure
 * ignored. Rejects with the first failure.
 */
export const syncChainAsync: RawBinding['syncChainAsync'] = async(raw.syncChainAsync)
/**
 * The offset of the first hole at or after `offset` (lseek SEEK_HOLE), the file's end when
 * there is none; ENXIO past the end. Unwritten (fallocated) extents without cached pages may
 * count as holes.
 */
export const seekHole: (fd: number, offset: number) => number = sync(raw.seekHole)
/** Allocate real blocks for [offset, offset + length), extending the file if needed. */
export const fallocate: (fd: number, offset: number, length: number) => number = sync(raw.fallocate)
/**
 * Allocates real blocks for [offset, offset + length), extending the file: fallocate, or where
 * the file system has none, zeros written past the file's end. With `zeroFill`, zeros are then
 * written over the whole range (its pages come into the page cache, dirty, in large folios).
 */
export const allocate: (fd: number, offset: number, length: number, zeroFill: boolean) => number = sync(raw.allocate)
/** {@link allocate} on the libuv pool, as `done`; {@link waitAllocation} of `handle` waits for it on this thread. */
export function allocateAsync(
  fd: number,
  offset: number,
  length: number,
  zeroFill: boolean,
): { done: Promise<number>; handle: AllocationHandle } {
  const [done, handle] = sync(raw.allocateAsync)(fd, offset, length, zeroFill)
  return {
    done: done.catch((error: unknown) => {
      throw withCode(error)
    }),
    handle,
  }
}
/** Blocks until the allocation returned; its result, or its failure thrown (as `done`'s). */
export const waitAllocation: (allocation: AllocationHandle) => number = sync(raw.waitAllocation)
/** ftruncate to `length` bytes. */
export const ftruncate: (fd: number, length: number) => number = sync(raw.ftruncate)
/** fdatasync. */
export const fdatasync: (fd: number) => number = sync(raw.fdatasync)
/** fdatasync on the libuv pool. */
export const fdatasyncAsync: (fd: number) => Promise<number> = async(raw.fdatasyncAsync)
/** Starts write-back of [offset, offset + length) without waiting (sync_file_range); ENOSYS off Linux. */
export const syncFileRangeAsync: (fd: number, offset: number, length: number) => Promise<number> = async(
  raw.syncFileRangeAsync,
)
/** The id of the mount `fd`'s file is on (statx; never reused on Linux 6.8+), or 0 where unknown. */
export const mountId: (fd: number) => number = sync(raw.mountId)
/** The type of the file system `fd`'s file is on (fstatfs's f_type: 0x01021994 for tmpfs, 0xef53 for ext4). */
export const fileSystemType: (fd: number) => number = sync(raw.fileSystemType)
/** flock(fd, operation); EWOULDBLOCK (with `lock.nonBlocking`) is thrown. */
export const flock: (fd: number, operation: number) => number = sync(raw.flock)

/**
 * Takes (`lock.read`, `lock.write`) or drops (`lock.release`) an open file description lock on
 * `[start, start + length)` without waiting (F_OFD_SETLK): EAGAIN when held elsewhere, ENOSYS
 * where the system has none.
 */
export const ofdLock: (fd: number, start: number, length: number, type: number) => void = sync(raw.ofdLock)

/** Whether another open file description holds a lock conflicting with `type` there (F_OFD_GETLK). */
export const ofdLockHeld: (fd: number, start: number, length: number, type: number) => boolean = sync(raw.ofdLockHeld)

/**
 * pread(2) into `target[offset, offset + length)` from file position `position`: the bytes read,
 * 0 at the end of the file. A reader's wake-up path uses it instead of `fs.readSync`, which
 * validates its arguments in JavaScript and sets up a libuv request for the same system call.
 */
export function pread(fd: number, target: Uint8Array, offset: number, length: number, position: number): number {
  // Written out rather than through sync(): no rest-argument array on the hot path.
  try {
    return raw.pread(fd, target, offset, length, position)
  } catch (error) {
    throw withCode(error)
  }
}

/**
 * futex(FUTEX_WAKE): wakes up to `count` waiters (all by default) in other processes that sleep
 * on `words[index]`; returns how many woke.
 */
export const futexWake: (words: Int32Array, index: number, count?: number) => number =
  sync(raw.futexWake)

/**
 * Watches `path` for reads, writes, attribute changes, deletion and renames: `callback` runs
 * from the event loop once per loop iteration that saw any. Null where inotify is not available (the
 * caller falls back to fs.watch).
 */
export function watchFile(path: string, callback: () => void): FileWatch | null {
  const Watch = raw.Watch
  if (Watch === undefined) return null
  try {
    return new Watch(path, callback)
  } catch (error) {
    throw withCode(error)
  }
}
