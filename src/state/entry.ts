/**
 * The state entry framing of grailbio/base stateio, byte for byte (see docs/FORMAT.md, "The
 * state log"). Every state entry is one record-log entry:
 *
 *   entry   := type u8  epoch u64le  payload*
 *   type    := 1 (update) | 2 (snapshot)     // 0 is read as an update, as by the reference
 *
 * An update carries the epoch it builds on: the file offset of the snapshot that opened it (0
 * before any snapshot). A snapshot carries the previous epoch, and its own file offset becomes
 * the new epoch.
 *
 * Functions here are pure: they encode into and decode from Uint8Arrays and never do I/O.
 * @module
 */
import { checkBytes, invalidArgument } from '../arguments.ts'
import { copyBytes } from '../io/copy-bytes.ts'
import { readU64, writeU64 } from '../log/format.ts'

/** Size of the entry header: type (1) and epoch (8). */
export const ENTRY_HEADER_SIZE = 9

/** State entry types. */
export const EntryType = {
  /** A state update, applied on top of the epoch's snapshot. */
  Update: 1,
  /** A full state snapshot, which opens a new epoch. */
  Snapshot: 2,
} as const

/** A state entry type byte (one of {@link EntryType}). */
export type EntryType = (typeof EntryType)[keyof typeof EntryType]

/** A decoded state entry. */
export interface StateEntry {
  /** The type byte: 0 or 1 (both updates) or 2 (snapshot). */
  type: number
  /** The epoch field (`Infinity` when it is 2^53 or more: no file offset can match it). */
  epoch: number
  /** The payload: a view of the entry's bytes. */
  payload: Uint8Array
}

/**
 * Writes the 9-byte entry header into `target` at `at`.
 * @param target - The buffer to write into.
 * @param at - Index of the header's first byte.
 * @param type - The entry type.
 * @param epoch - The epoch field, a non-negative safe integer.
 */
export function writeEntryHeader(target: Uint8Array, at: number, type: EntryType, epoch: number): void {
  target[at] = type
  writeU64(target, at + 1, epoch)
}

/**
 * Encodes a state entry: header then payload, in a new buffer.
 * @param type - Update or snapshot.
 * @param epoch - The epoch field (see the module notes).
 * @param payload - The update or snapshot bytes (may be empty).
 * @returns The entry's bytes, ready for the record log.
 */
export function encodeStateEntry(type: EntryType, epoch: number, payload: Uint8Array): Uint8Array {
  if (type !== EntryType.Update && type !== EntryType.Snapshot) throw invalidArgument(`type must be EntryType.Update or EntryType.Snapshot, got ${String(type)}`)
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw invalidArgument(`epoch must be a non-negative safe integer, got ${String(epoch)}`)
  checkBytes(payload, 'payload')
  return buildStateEntry(type, epoch, payload)
}

/**
 * {@link encodeStateEntry} without its argument checks, for the writers, whose type and epoch
 * are their own and whose payload `update()` already checked: this is once per update.
 */
export function buildStateEntry(type: EntryType, epoch: number, payload: Uint8Array): Uint8Array {
  const entry = new Uint8Array(ENTRY_HEADER_SIZE + payload.length)
  writeEntryHeader(entry, 0, type, epoch)
  copyBytes(entry, payload, ENTRY_HEADER_SIZE)
  return entry
}

/**
 * Decodes a record-log entry as a state entry, with the reference's checks: at least 9 bytes
 * and a type below 3 (type 0 counts as an update).
 * @param entry - One record-log entry.
 * @returns The decoded entry (its payload a view of `entry`), or `null` when it is malformed.
 */
export function decodeStateEntry(entry: Uint8Array): StateEntry | null {
  checkBytes(entry, 'entry')
  if (entry.length < ENTRY_HEADER_SIZE) return null
  const type = entry[0] as number
  if (type >= 3) return null
  return { type, epoch: readU64(entry, 1), payload: entry.subarray(ENTRY_HEADER_SIZE) }
}
