/**
 * What the writer checks when it opens a journal, before the last segment: every segment but
 * the last should be finished. One that is not was being rolled past when the writer stopped.
 * If it holds all its entries (up to the next segment's base) it is finished now; if it holds
 * fewer, a power loss took entries no `sync()` had acknowledged (a sync waits for the segments
 * being finished), so none after them was acknowledged either: the journal is cut there, the
 * later segments deleted, and positions stay dense.
 * @module
 */
import { statSync } from 'node:fs'

import { AppendOnlyFile } from '../aof/append-only-file.ts'
import { FileState } from '../aof/file-state.ts'
import { isAofkitError } from '../errors.ts'
import { syncDirectory } from '../io/durable.ts'
import { LogReader } from '../log/log-reader.ts'
import { AppendOnlyFileSource } from '../log/sources.ts'
import { segmentPath } from './layout.ts'
import { deleteSegment } from './retention.ts'

/**
 * True when the segment's file is finished on disk: finish() makes it read-only after its
 * fdatasync, so a read-only file's data and end marker are durable.
 */
function finishedOnDisk(dir: string, base: number): boolean {
  try {
    return (statSync(segmentPath(dir, base)).mode & 0o222) === 0
  } catch {
    return true
  }
}

/** Entries of `file` readable from its start, at most `limit`. */
function countEntries(file: AppendOnlyFile, limit: number): number {
  const reader = new LogReader(new AppendOnlyFileSource(file))
  let count = 0
  try {
    while (count < limit && reader.read() !== null) count++
  } catch (error) {
    if (!isAofkitError(error)) throw error
  }
  return count
}

/**
 * Finishes or cuts at the unfinished segments before the last of `dir` (`bases`, oldest first;
 * shortened when the journal is cut).
 */
export async function recoverSegments(dir: string, bases: number[]): Promise<void> {
  for (let k = 0; k + 1 < bases.length; k++) {
    const base = bases[k]!
    const end = bases[k + 1]!
    if (finishedOnDisk(dir, base)) continue
    const file = AppendOnlyFile.open(segmentPath(dir, base))
    let whole: boolean
    try {
      if (file.state !== FileState.Opened) continue
      whole = countEntries(file, end - base) >= end - base
      if (whole) await file.finish()
    } finally {
      await file.close()
    }
    if (whole) continue
    for (const later of bases.splice(k + 1)) deleteSegment(dir, later)
    await syncDirectory(dir)
    return
  }
}
