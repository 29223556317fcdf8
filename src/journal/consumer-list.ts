/**
 * `Journal.consumers(dir)`: every durable consumer of a journal with its committed position,
 * how far behind it is (entries and bytes), whether an instance is open, and whether it holds
 * retention back. A consumer whose position file cannot be read is listed with its error; the
 * others are listed as usual.
 * @module
 */
import { statSync } from 'node:fs'

import { ErrorCode, isAofkitError } from '../errors.ts'
import { isLocked } from '../io/lock.ts'
import { consumerLockPath, consumerNames, readPosition } from './consumer-position.ts'
import { checkDirectory, checkJournal, listSegments, segmentPath } from './layout.ts'
import { readRetentionHolders } from './retention.ts'
import { SegmentCursor } from './segment-cursor.ts'
import { lastAtMost } from './sparse-index.ts'

/** One consumer, as `Journal.consumers` lists it. */
export interface ConsumerInfo {
  /** The consumer's name. */
  readonly name: string
  /** Its last committed position (-1: none). */
  readonly committed: number
  /** When it last committed (ms since the epoch). */
  readonly committedAt: number
  /** Entries after the committed position. */
  readonly lag: number
  /** Data bytes of those entries (record framing included). */
  readonly lagBytes: number
  /** True while an instance of the consumer is open (its lock is held). */
  readonly active: boolean
  /**
   * True when it keeps retention from deleting the oldest segment: the writer's last retention
   * run was held back by it, and it has not committed that segment's entries since.
   */
  readonly holdsRetention: boolean
  /**
   * Why its position file cannot be read (a stable code, such as ERR_AOF_CORRUPTED for a
   * damaged file, and a message), or null. Such a consumer is listed as at the start
   * (`committed` -1, its lag from the first entry), as retention counts it, until it is reset
   * or deleted.
   */
  readonly error: { readonly code: string; readonly message: string } | null
}

/** The committed data size of the segment at `base` (a finished one ends with 8 magic bytes). */
function dataSize(dir: string, base: number, last: boolean): number {
  if (last) {
    const cursor = new SegmentCursor(dir, base, base)
    try {
      return cursor.file.size
    } finally {
      cursor.close()
    }
  }
  try {
    return Math.max(0, statSync(segmentPath(dir, base)).size - 8)
  } catch {
    return 0
  }
}

/** Where the entries from `position` on start, and the journal's next position. */
function lagOf(dir: string, bases: number[], sizes: number[], next: number, position: number): { lag: number; lagBytes: number } {
  if (position >= next) return { lag: 0, lagBytes: 0 }
  const at = Math.max(0, lastAtMost(bases, position))
  let offset = 0
  if (position > bases[at]!) {
    try {
      const cursor = new SegmentCursor(dir, bases[at]!, position)
      offset = cursor.offset
      cursor.close()
    } catch {
      // A segment that cannot be read up to the position (damage): its whole size counts.
    }
  }
  let lagBytes = Math.max(0, sizes[at]! - offset)
  for (let k = at + 1; k < bases.length; k++) lagBytes += sizes[k]!
  return { lag: next - Math.max(position, bases[0]!), lagBytes }
}

/**
 * Lists the consumers of the journal in `dir`, sorted by name.
 * @throws {@link AofkitError} ERR_JOURNAL_NOT_A_JOURNAL, ERR_AOF_NOT_FOUND.
 */
export function listConsumers(dir: string): ConsumerInfo[] {
  checkDirectory(dir)
  checkJournal(dir)
  const bases = listSegments(dir)
  const sizes = bases.map((base, k) => dataSize(dir, base, k === bases.length - 1))
  const last = bases.at(-1)
  let next = 0
  if (last !== undefined) {
    const cursor = new SegmentCursor(dir, last, Number.MAX_SAFE_INTEGER)
    next = cursor.position
    cursor.close()
  }
  const holders = new Set(readRetentionHolders(dir))
  const infos: ConsumerInfo[] = []
  for (const name of consumerNames(dir)) {
    let stored: { next: number; time: number } | null
    let error: ConsumerInfo['error'] = null
    try {
      stored = readPosition(dir, name)
    } catch (failure) {
      // One unreadable position file: that consumer is reported, the others still listed.
      error = { code: isAofkitError(failure) ? failure.code : ErrorCode.Io, message: failure instanceof Error ? failure.message : String(failure) }
      stored = { next: 0, time: 0 }
    }
    if (stored === null) continue
    let active = false
    try {
      active = isLocked(consumerLockPath(dir, name))
    } catch {
      // No lock file: nobody has it open.
    }
    infos.push({
      name,
      committed: stored.next - 1,
      committedAt: stored.time,
      ...lagOf(dir, bases, sizes, next, stored.next),
      active,
      // The last run stopped at the oldest segment [bases[0], bases[1]); a commit past it since
      // then no longer holds anything back, even before the writer's next run.
      holdsRetention: holders.has(name) && bases.length > 1 && stored.next < bases[1]!,
      error,
    })
  }
  return infos
}
