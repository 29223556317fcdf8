/**
 * Retention: deletes whole segments, oldest first, by size, count and age, but never one
 * holding an entry a durable consumer has not committed, unless a hard limit says so. The
 * open segment is never deleted.
 * @module
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { sidecarPath } from '../aof/shm.ts'
import { rename } from '../io/durable.ts'
import { consumerNames, readPosition } from './consumer-position.ts'
import { RETENTION_STATUS_NAME, offsetIndexPath, segmentPath, timeIndexPath } from './layout.ts'
import type { RetentionOptions } from './options.ts'
import { readIndex } from './sparse-index.ts'

/** A consumer that keeps retention from deleting a segment. */
export interface RetentionHolder {
  /** The consumer's name. */
  readonly name: string
  /** Its committed position (-1: none yet). */
  readonly committed: number
}

/** What the last retention run did. */
export interface RetentionReport {
  /** Consumers that held back a deletion the limits asked for (empty when none did). */
  readonly heldBy: readonly RetentionHolder[]
  /** Segments deleted by this journal since it was opened. */
  readonly deletedSegments: number
  /** Entries deleted by this journal since it was opened. */
  readonly deletedEntries: number
}

/** The bytes a finished segment's files take (data and indexes); 0 for one that is gone. */
export function segmentBytes(dir: string, base: number): number {
  let bytes = 0
  for (const path of [segmentPath(dir, base), offsetIndexPath(dir, base), timeIndexPath(dir, base)]) {
    try {
      bytes += statSync(path).size
    } catch {
      // Gone: nothing.
    }
  }
  return bytes
}

/** The time of a segment's newest entry, or -1 when unknown. */
function lastTime(dir: string, base: number): number {
  const times = readIndex(timeIndexPath(dir, base))
  return times.first.length > 0 ? times.first[times.first.length - 1]! : -1
}

/** Deletes a segment's files: the data first, so no reader opens it afterwards. */
export function deleteSegment(dir: string, base: number): void {
  const data = segmentPath(dir, base)
  for (const path of [data, sidecarPath(data), offsetIndexPath(dir, base), timeIndexPath(dir, base)]) {
    rmSync(path, { force: true })
  }
}

/**
 * Applies `policy` to the segments of `dir` (`bases`, oldest first, the last one open, which
 * is shifted as segments are deleted); `openBytes` is the open segment's data size.
 */
export function applyRetention(
  dir: string,
  bases: number[],
  policy: Required<RetentionOptions>,
  previous: RetentionReport,
  openBytes: number,
  now = Date.now(),
): RetentionReport {
  const consumers = consumerNames(dir).map((name) => {
    let next = 0
    try {
      next = readPosition(dir, name)?.next ?? 0
    } catch {
      // A damaged position file holds everything back, as a consumer at 0 would.
    }
    return { name, next }
  })
  // The open segment's file is allocated ahead of its data: count its data.
  let total = openBytes
  for (const base of bases.slice(0, -1)) total += segmentBytes(dir, base)
  let heldBy: RetentionHolder[] = []
  let deletedSegments = previous.deletedSegments
  let deletedEntries = previous.deletedEntries
  while (bases.length > 1) {
    const base = bases[0]!
    const end = bases[1]!
    const age = now - lastTime(dir, base)
    const soft = total > policy.maxBytes || bases.length > policy.maxSegments || age > policy.maxAgeMs
    const hard = total > policy.hardMaxBytes || age > policy.hardMaxAgeMs
    if (!soft && !hard) break
    const holders = consumers.filter((consumer) => consumer.next < end)
    if (!hard && holders.length > 0) {
      heldBy = holders.map(({ name, next }) => ({ name, committed: next - 1 }))
      break
    }
    const bytes = segmentBytes(dir, base)
    deleteSegment(dir, base)
    bases.shift()
    total -= bytes
    deletedSegments++
    deletedEntries += end - base
  }
  writeStatus(dir, heldBy)
  return { heldBy, deletedSegments, deletedEntries }
}

/** Reads who held retention back at the writer's last run (names), for `Journal.consumers`. */
export function readRetentionHolders(dir: string): string[] {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, RETENTION_STATUS_NAME), 'utf8')) as { heldBy?: unknown }
    return Array.isArray(parsed.heldBy) ? parsed.heldBy.filter((name): name is string => typeof name === 'string') : []
  } catch {
    return []
  }
}

/** Writes who holds retention back, for `Journal.consumers` in other processes. */
function writeStatus(dir: string, heldBy: readonly RetentionHolder[]): void {
  const path = join(dir, RETENTION_STATUS_NAME)
  const temporary = `${path}.tmp`
  const text = `${JSON.stringify({ heldBy: heldBy.map((holder) => holder.name) })}\n`
  try {
    // Unchanged: not rewritten (a rename wakes every follower waiting on the directory).
    if (readFileSync(path, 'utf8') === text) return
  } catch {
    // Not written yet.
  }
  try {
    writeFileSync(temporary, text)
    rename(temporary, path)
  } catch {
    // Only a report: retention itself is done.
  }
}
