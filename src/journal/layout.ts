/**
 * The files of a journal directory and their names (see docs/FORMAT.md, "The journal"):
 * `journal` (the marker), `writer.lock`, per segment `<base>.log` (an AppendOnlyFile holding a
 * record log, with its `-shm` sidecar), `<base>.index` and `<base>.timeindex`, `times-shm` (the
 * time ring, time-ring.ts), and
 * `consumers/<name>.position` with `consumers/<name>.lock`. `<base>` is the segment's first
 * position in 20 decimal digits, so `ls` lists segments in order.
 * @module
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { syncDirectory } from '../io/durable.ts'

/** The marker file's name and contents: what makes a directory a journal. */
export const MARKER_NAME = 'journal'
const MARKER_TEXT = 'aofkit journal 1\n'
/** The writer's lock file (flock), rewritten with the writer's pid at each open. */
export const WRITER_LOCK_NAME = 'writer.lock'
/** The folder of consumer position files. */
export const CONSUMERS_DIR = 'consumers'
/** Where the writer says which consumers hold retention back. */
export const RETENTION_STATUS_NAME = 'retention.json'

const BASE_DIGITS = 20
const SEGMENT_PATTERN = /^(\d{20})\.log$/

/** `<base>` of a segment: its first position, zero-padded to 20 digits. */
export function segmentStem(base: number): string {
  return String(base).padStart(BASE_DIGITS, '0')
}

/** The data file of the segment starting at `base`. */
export function segmentPath(dir: string, base: number): string {
  return join(dir, `${segmentStem(base)}.log`)
}

/** The sparse offset index beside the segment starting at `base`. */
export function offsetIndexPath(dir: string, base: number): string {
  return join(dir, `${segmentStem(base)}.index`)
}

/** The sparse time index beside the segment starting at `base`. */
export function timeIndexPath(dir: string, base: number): string {
  return join(dir, `${segmentStem(base)}.timeindex`)
}

/** The first positions of the segments in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    throw fromSystemError(error, dir, 'read')
  }
  const bases: number[] = []
  for (const name of names) {
    const match = SEGMENT_PATTERN.exec(name)
    if (match !== null) bases.push(Number(match[1]))
  }
  return bases.sort((a, b) => a - b)
}

/** Refuses a directory path that is not a non-empty string. */
export function checkDirectory(dir: unknown): asserts dir is string {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument(`dir must be a non-empty string, got ${String(dir)}`)
}

/**
 * Throws ERR_JOURNAL_NOT_A_JOURNAL unless `dir` holds the journal marker (ERR_AOF_NOT_FOUND
 * when `dir` does not exist).
 */
export function checkJournal(dir: string): void {
  let stat
  try {
    stat = statSync(dir)
  } catch (error) {
    throw fromSystemError(error, dir, 'stat')
  }
  if (!stat.isDirectory()) throw notAJournal(dir, 'it is not a directory')
  let text: string
  try {
    text = readFileSync(join(dir, MARKER_NAME), 'utf8')
  } catch {
    throw notAJournal(dir, `it has no '${MARKER_NAME}' file`)
  }
  if (text !== MARKER_TEXT) throw notAJournal(dir, `its '${MARKER_NAME}' file is not an aofkit journal marker`)
}

/** Writes the marker into a new journal directory, durably. */
export async function writeMarker(dir: string): Promise<void> {
  const path = join(dir, MARKER_NAME)
  try {
    writeFileSync(path, MARKER_TEXT, { flush: true })
  } catch (error) {
    throw fromSystemError(error, path, 'create')
  }
  await syncDirectory(dir)
}

/** ERR_JOURNAL_NOT_A_JOURNAL for `dir`. */
export function notAJournal(dir: string, why: string): AofkitError {
  return new AofkitError(ErrorCode.NotAJournal, `'${dir}' is not a journal: ${why}`, { path: dir })
}
