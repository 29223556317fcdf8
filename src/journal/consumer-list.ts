/**
 * `Journal.consumers(dir)`: every durable consumer of a journal with its committed position,
 * how far behind it is (entries and bytes), whether an instance is open, and whether it held
 * back the writer's last retention run.
 * @module
 */
import { statSync } from 'node:fs'

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
  /** True when it kept the writer's last retention run from deleting a segment. */
  readonly holdsRetention: boolean
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
    const stored = readPosition(dir, name)
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
      holdsRetention: holders.has(name),
    })
  }
  return infos
}
