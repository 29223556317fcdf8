/**
 * The layout of the `-shm` sidecar's page: its magic, version, size and the offset of each
 * field (docs/FORMAT.md, "The -shm sidecar"), and where each sits in the page's typed views.
 * @module
 */

/** "ASHM", little-endian. */
export const SHM_MAGIC = 0x4d485341
/**
 * Layout version (a page of another version is not used): 3 since a sync's record carries the
 * check of the data it covers (`syncedFrom`, `syncedCheck`, `syncedChecked`); 2 made the
 * committed size a u64 in two 32-bit words.
 */
export const SHM_VERSION = 3
/** Bytes of the sidecar file. */
export const SHM_SIZE = 4096

/** Byte offsets of the sidecar's fields (all little-endian, naturally aligned). */
export const ShmOffset = {
  magic: 0, // u32
  version: 4, // u32
  writerPid: 8, // u32, 0 once the writer closed cleanly
  fileState: 12, // u32, a FileState
  committedSize: 16, // u64 as two u32 words, low first: data bytes every returned write covers (committed-size.ts)
  lastCheckpoint: 24, // f64: offset of the last checkpoint() or -1
  allocatedSize: 32, // f64: bytes of the data file allocated so far
  inode: 40, // f64: the data file's inode, to notice a replaced file
  device: 48, // f64: the data file's device
  commitSequence: 56, // u32: bumped on wake-ups; a reader may futex-wait on it
  waiters: 60, // u32: readers currently waiting, by any means
  bootId: 64, // 4 x u32: the kernel's boot id when the writer opened (zeros where unknown)
  futexWaiters: 80, // u32: readers among `waiters` blocked in a futex wait on commitSequence
  writeWatchers: 84, // u32: readers among `waiters` whose watch sees writes only (fs.watch)
  headLength: 88, // u32: bytes of `head` that hold the data file's first bytes
  birthNanoseconds: 92, // u32: the nanoseconds of the data file's birth time (0 where unknown)
  birthSeconds: 96, // f64: the data file's birth time in seconds (0 where unknown)
  head: 104, // HEAD_SIZE bytes: the data file's first committed bytes, as the writer stored them
  syncedSize: 136, // f64: data bytes the last sync() covered (see syncedChecked)
  mountId: 144, // f64: the id of the mount the writer opened the data file on (0 where unknown)
  syncedFrom: 152, // f64: with syncedChecked 1, data bytes an earlier completed sync() made durable
  syncedCheck: 160, // u32: with syncedChecked 1, the check of the data [syncedFrom, syncedSize) (sync-check.ts)
  syncedChecked: 164, // u32: 1 when the page was written before the flush of the data syncedSize covers; 0 when after it
} as const

/**
 * The sync's record: the bytes [syncedSize, syncedChecked] a sync writes into the page in one
 * write, inside one 512-byte sector (so a power cut leaves all of it or none).
 */
export const SYNC_RECORD_OFFSET = ShmOffset.syncedSize
export const SYNC_RECORD_SIZE = ShmOffset.syncedChecked + 4 - ShmOffset.syncedSize

/**
 * Where each field of {@link ShmOffset} sits in the page's typed views: the 32-bit fields in
 * `Sidecar.words`, the 64-bit ones in `Sidecar.floats` (the committed size, a u64, in two words). The one table the writer,
 * the readers and the wake-up protocol index the page with.
 */
export const ShmIndex = {
  magic: ShmOffset.magic / 4,
  version: ShmOffset.version / 4,
  writerPid: ShmOffset.writerPid / 4,
  fileState: ShmOffset.fileState / 4,
  committedLow: ShmOffset.committedSize / 4,
  committedHigh: ShmOffset.committedSize / 4 + 1,
  lastCheckpoint: ShmOffset.lastCheckpoint / 8,
  allocatedSize: ShmOffset.allocatedSize / 8,
  inode: ShmOffset.inode / 8,
  device: ShmOffset.device / 8,
  commitSequence: ShmOffset.commitSequence / 4,
  waiters: ShmOffset.waiters / 4,
  bootId: ShmOffset.bootId / 4,
  futexWaiters: ShmOffset.futexWaiters / 4,
  writeWatchers: ShmOffset.writeWatchers / 4,
  headLength: ShmOffset.headLength / 4,
  birthNanoseconds: ShmOffset.birthNanoseconds / 4,
  birthSeconds: ShmOffset.birthSeconds / 8,
  syncedSize: ShmOffset.syncedSize / 8,
  mountId: ShmOffset.mountId / 8,
  syncedFrom: ShmOffset.syncedFrom / 8,
  syncedCheck: ShmOffset.syncedCheck / 4,
  syncedChecked: ShmOffset.syncedChecked / 4,
} as const

/** Bytes of the data file's beginning the writer copies into the sidecar (`head`). */
export const HEAD_SIZE = 32
