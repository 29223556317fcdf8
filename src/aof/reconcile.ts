/**
 * Reconciling recovery with the `-shm` sidecar: given a data file's bytes, what its recovery
 * function found and the sidecar page left next to it, decide where the data ends, whether
 * the sidecar may say so, what must be cut, and in which state the file opens. A pure
 * function: it reads its arguments and changes nothing; open-file.ts carries the decision
 * out. The rule is stated in docs/FORMAT.md ("Recovery" and "When the sidecar counts").
 * @module
 */
import { FileState } from './file-state.ts'
import { MAGIC_SIZE } from './magic.ts'
import type { Magic } from './magic.ts'
import { RecoveryKind, lastNonZero, readMagic } from './recovery.ts'
import type { RecoveryResult } from './recovery.ts'
import { HEAD_SIZE, NOT_SYNCED } from './shm.ts'
import type { SidecarSnapshot, SyncedRecord } from './shm.ts'
import { sameFile, sameMount } from './sidecar-identity.ts'
import type { FileIdentity } from './sidecar-identity.ts'
import { syncCheck } from './sync-check.ts'

/**
 * What became of the sidecar found next to a data file on open:
 * - `'absent'`: there was none, or it held no valid page;
 * - `'other-file'`: it belongs to another file once at this path (device, inode, birth time,
 *   first bytes or allocated length differ): a file copied over the old one, or put in its place;
 * - `'closed'`: its writer closed or finished the file;
 * - `'earlier-boot'`: its writer ran before the last boot, or before its file system was last
 *   mounted, so its page cache did not survive: only the size its last `sync()` made durable
 *   counts (a power cut);
 * - `'invalid'`: its committed size is not a whole number of bytes the file can hold;
 * - `'trusted'`: it belongs to this file, whose writer died with it open during this boot.
 */
export type SidecarTrust = 'absent' | 'other-file' | 'closed' | 'earlier-boot' | 'invalid' | 'trusted'

/** Everything the decision depends on. */
export interface ReconcileInput {
  /** The data file's bytes, at least `fileSize` of them. Never modified. */
  bytes: Uint8Array
  fileSize: number
  magic: Magic
  /** What the recovery function found; its `tail` a safe integer in [0, fileSize]. */
  result: RecoveryResult
  /** The sidecar page found next to the file, or null. */
  sidecar: SidecarSnapshot | null
  /** The data file's identity. */
  identity: FileIdentity
  /** Opened read-only: nothing may be written, and the file opens in the EOF state. */
  readOnly: boolean
  /** Cut a corrupted tail back to the last checkpoint instead of refusing. */
  repair: boolean
}

/** The decision. */
export interface Reconciliation {
  /** True when the file must not be opened (`ERR_AOF_CORRUPTED`); the other fields then describe what was found. */
  corrupted: boolean
  /** The data size: where the next write goes. */
  size: number
  /** Opened (writable) or EOF (finished, or read-only). */
  state: FileState
  /** Offset of the last checkpoint in the data, or -1. */
  lastCheckpoint: number
  /** Where `size` came from: the magic numbers, the sidecar's committed or synced size, or a repair. */
  source: 'magic' | 'sidecar' | 'synced' | 'repair'
  /** What became of the sidecar. */
  sidecar: SidecarTrust
  /**
   * What the opener must write, or null: zero `[size, cutEnd)` and put a MagicTail at `size`.
   * Never set for a read-only open.
   */
  cutEnd: number | null
  /** Bytes of data past `size` that the cut removes (or, read-only, that are ignored). */
  cutBytes: number
  /**
   * What is known to be durable already, for the next writer to carry over: the sidecar's sync
   * record when it is this file's and within `size` (see {@link carriedRecord}); else none.
   */
  synced: SyncedRecord
}

/** `offset` if a MagicCheckpoint sits there and ends within the first `end` bytes, else -1. */
export function checkpointAt(bytes: Uint8Array, offset: number, end: number, magic: Magic): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + MAGIC_SIZE > end) return -1
  return readMagic(bytes, offset) === magic.checkpoint ? offset : -1
}

/** Whether `size` is a whole number of data bytes a file of `fileSize` bytes can hold, with its MagicTail. */
function validSize(size: number, fileSize: number): boolean {
  return Number.isSafeInteger(size) && size >= 0 && size + MAGIC_SIZE <= fileSize
}

/**
 * Where the data ends after a power cut, by the page's sync record: its size; or, for a record
 * written before the flush of its data (`checked`), its `from` when the data `[from, size)`
 * does not have the record's check (that flush did not complete, so only what an earlier sync
 * made durable counts). 0 when the record says nothing: never synced, or sizes the file cannot
 * hold.
 */
export function durableEnd(synced: SyncedRecord, bytes: Uint8Array, fileSize: number): number {
  if (!validSize(synced.size, fileSize)) return 0
  if (!synced.checked) return synced.size
  if (!validSize(synced.from, fileSize) || synced.from > synced.size) return 0
  return syncCheck(bytes, synced.from, synced.size) === synced.check ? synced.size : synced.from
}

/**
 * The sync record a writer that opens the file at `size` carries over, so that a power cut
 * before its own first sync still finds what was durable. After a power cut (`earlier-boot`),
 * what {@link durableEnd} found is on the disk. Otherwise the page cache survived and the data
 * is all there, but not all of it durable: a record written before its data's flush (a sync in
 * flight when the writer died) is carried as it is, to be checked after a later power cut;
 * never a record past `size`.
 */
function carriedRecord(page: SidecarSnapshot, trust: SidecarTrust, bytes: Uint8Array, fileSize: number, size: number): SyncedRecord {
  const synced = page.synced
  if (trust === 'earlier-boot') return { ...NOT_SYNCED, size: Math.min(durableEnd(synced, bytes, fileSize), size) }
  if (!validSize(synced.size, fileSize)) return NOT_SYNCED
  if (!synced.checked) return { ...NOT_SYNCED, size: Math.min(synced.size, size) }
  if (!validSize(synced.from, fileSize) || synced.from > synced.size) return NOT_SYNCED
  if (synced.size <= size) return { ...synced }
  return { ...NOT_SYNCED, size: Math.min(synced.from, size) }
}

/** The verdict on the sidecar, and whether its first bytes vouch for its committed size. */
export function judgeSidecar(
  page: SidecarSnapshot | null,
  identity: FileIdentity,
  bytes: Uint8Array,
  fileSize: number,
): { trust: SidecarTrust; sameFile: boolean; proven: boolean } {
  if (page === null) return { trust: 'absent', sameFile: false, proven: false }
  if (!sameFile(page, identity, bytes, fileSize)) return { trust: 'other-file', sameFile: false, proven: false }
  if (page.fileState !== FileState.Opened) return { trust: 'closed', sameFile: true, proven: false }
  if (!sameMount(page, identity)) return { trust: 'earlier-boot', sameFile: true, proven: false }
  const committed = page.committedSize
  const allocated = page.allocatedSize
  // A writer never shrinks its file; a file shorter than it had allocated is another one.
  if (!Number.isSafeInteger(allocated) || allocated > fileSize) return { trust: 'other-file', sameFile: false, proven: false }
  if (!Number.isSafeInteger(committed) || committed < 0 || committed + MAGIC_SIZE > allocated) {
    return { trust: 'invalid', sameFile: true, proven: false }
  }
  // The writer copies the first bytes before it publishes a size below HEAD_SIZE, so a page
  // of this file holds at least min(committed, HEAD_SIZE) of them; with none, it vouches for
  // nothing but an empty file.
  const proven = page.head.length > 0 && page.head.length >= Math.min(committed, HEAD_SIZE)
  return { trust: 'trusted', sameFile: true, proven }
}

/**
 * Whether the magic numbers describe a file as a writer leaves it between two operations: a
 * MagicTail at the end of the data, no data at all, or a finished file (a MagicCheckpoint and
 * nothing after it: finish() truncates the file there).
 */
function cleanByMagic(result: RecoveryResult, fileSize: number): boolean {
  switch (result.outcome) {
    case RecoveryKind.Empty:
    case RecoveryKind.Tail:
      return true
    case RecoveryKind.Checkpoint:
      return fileSize === result.tail + MAGIC_SIZE
    default:
      return false
  }
}

/**
 * Decides how a file opens. The sidecar's committed size decides only when the sidecar is
 * `'trusted'` and either the magic numbers do not describe a clean file (a torn write) or its
 * stored first bytes vouch for it; otherwise the magic numbers decide, and a corrupted tail is
 * refused, cut back with `repair`, or (read-only) read up to the last checkpoint.
 */
export function reconcile(input: ReconcileInput): Reconciliation {
  const { bytes, fileSize, magic, result, readOnly } = input
  const judged = judgeSidecar(input.sidecar, input.identity, bytes, fileSize)
  const page = input.sidecar
  const dataEnd = lastNonZero(bytes, fileSize) + 1
  const decision = (size: number, source: Reconciliation['source'], state: FileState, lastCheckpoint: number, cut: boolean): Reconciliation => ({
    corrupted: false,
    size,
    state: readOnly ? FileState.EOF : state,
    lastCheckpoint,
    source,
    sidecar: judged.trust,
    cutEnd: cut && !readOnly ? Math.max(size, dataEnd) : null,
    cutBytes: cut ? Math.max(0, dataEnd - size) : 0,
    synced: judged.sameFile && page !== null ? carriedRecord(page, judged.trust, bytes, fileSize, size) : NOT_SYNCED,
  })
  /** The last checkpoint within `[0, size)`: the one recovery found, else the sidecar's. */
  const checkpointWithin = (size: number): number => {
    if (result.checkpoint >= 0 && result.checkpoint + MAGIC_SIZE <= size) return result.checkpoint
    return judged.sameFile && page !== null ? checkpointAt(bytes, page.lastCheckpoint, size, magic) : -1
  }

  if (result.outcome === RecoveryKind.Panic) return { ...decision(0, 'magic', FileState.EOF, -1, false), corrupted: true }

  if (judged.trust === 'trusted' && page !== null) {
    const committed = page.committedSize
    const exact = result.outcome === RecoveryKind.Tail && result.tail === committed
    if (!exact && (judged.proven || !cleanByMagic(result, fileSize))) {
      // Magic numbers cannot tell every torn write from data: a copy that began with zeros
      // wipes the MagicTail and leaves nothing torn to see (Empty, or an earlier checkpoint
      // looks like the end), and a record holding a magic number, copied up to it, looks like
      // a write that ended there. The committed size settles it: what lies past it is the
      // write in flight, torn or complete but unpublished, and is cut.
      // Its last checkpoint too: a search of the bytes may find a magic number in a record.
      return decision(committed, 'sidecar', FileState.Opened, checkpointAt(bytes, page.lastCheckpoint, committed, magic), true)
    }
  }

  const synced = judged.trust === 'earlier-boot' && page !== null ? durableEnd(page.synced, bytes, fileSize) : 0
  if (synced > 0 && page !== null) {
    // A power cut: writes after the last sync() may have reached the disk in any order, one
    // page here and not the one before it, and one over the MagicTail that ended the synced
    // data. The magic numbers cannot tell that from a whole file, so the data ends where the
    // last sync() ended (or the one before, when the data of the last did not all reach the
    // disk), unless a MagicTail stands exactly there. A file never synced keeps what its
    // magic numbers find.
    if (result.outcome === RecoveryKind.Tail && result.tail === synced) return decision(synced, 'magic', FileState.Opened, checkpointWithin(synced), false)
    return decision(synced, 'synced', FileState.Opened, checkpointAt(bytes, page.lastCheckpoint, synced, magic), true)
  }

  switch (result.outcome) {
    case RecoveryKind.Checkpoint:
      return decision(result.tail, 'magic', FileState.EOF, result.checkpoint, false)
    case RecoveryKind.Corrupted:
      if (readOnly) return decision(result.tail, 'magic', FileState.EOF, checkpointWithin(result.tail), true)
      if (!input.repair) return { ...decision(result.tail, 'magic', FileState.Opened, result.checkpoint, false), corrupted: true }
      return decision(result.tail, 'repair', FileState.Opened, checkpointWithin(result.tail), true)
    default:
      return decision(result.tail, 'magic', FileState.Opened, checkpointWithin(result.tail), false)
  }
}
