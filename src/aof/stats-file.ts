/**
 * Statistics a Manager publishes for other processes: a small JSON file, replaced atomically
 * (written beside it, then renamed), so that `aof stats` can show the counters of a running
 * process, which live in that process's memory.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs'

import { invalidArgument } from '../arguments.ts'
import { fromSystemError } from '../errors.ts'
import { rename } from '../io/durable.ts'
import { STATS_KEYS } from './stats.ts'
import type { Stats } from './stats.ts'

/** What a published statistics file holds. */
export interface PublishedStats {
  /** Always `'aofkit-stats'`: what tells this file from others. */
  format: 'aofkit-stats'
  /** The publishing process. */
  pid: number
  /** When it was written (ms since the epoch). */
  time: number
  /** True in the last version a manager writes, at its close. */
  closed: boolean
  /** Paths of the files the manager had open. */
  files: string[]
  /** The manager's {@link Stats}. */
  stats: Stats
}

/** Writes `published` to `path` atomically (a temporary file renamed over it). */
export function writePublishedStats(path: string, published: PublishedStats): void {
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(published, null, 2)}\n`)
  rename(temporary, path)
}

/**
 * Reads a statistics file a Manager published.
 * @throws {@link AofkitError} ERR_AOF_NOT_FOUND and the other system codes; ERR_AOF_INVALID_ARGUMENT
 *   when the file is not one.
 */
export function readPublishedStats(path: string): PublishedStats {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw fromSystemError(error, path, 'read')
  }
  let parsed: Partial<PublishedStats>
  try {
    parsed = JSON.parse(text) as Partial<PublishedStats>
  } catch {
    parsed = {}
  }
  const stats = parsed.stats as Record<string, unknown> | undefined
  if (parsed.format !== 'aofkit-stats' || stats === undefined || !STATS_KEYS.every((key) => typeof stats[key] === 'number')) {
    throw invalidArgument(`'${path}' is not a statistics file a Manager published`, path)
  }
  return parsed as PublishedStats
}
