/**
 * `aof cat` and `aof tail` of a journal directory: its entries by position, one per line (text,
 * JSON or hex, as for a record log), with `--from`/`--to` as positions or times, and `tail -f`
 * following the writer across segment rolls and restarts; `aof inspect` and `aof verify` of one:
 * its segments, positions, times, writer and consumers, and every record of every segment read.
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { FileState } from '../aof/file-state.ts'
import { isAofkitError } from '../errors.ts'
import { isLocked } from '../io/lock.ts'
import { listConsumers } from '../journal/consumer-list.ts'
import { JournalReader } from '../journal/journal-reader.ts'
import { MARKER_NAME, WRITER_LOCK_NAME, checkJournal, listSegments, timeIndexPath } from '../journal/layout.ts'
import { segmentTimes } from '../journal/time-ring.ts'
import { positionAtTime } from '../journal/positions.ts'
import { SegmentCursor } from '../journal/segment-cursor.ts'
import type { JournalEntry } from '../journal/segment-cursor.ts'
import { readIndex } from '../journal/sparse-index.ts'
import { formatEntry } from './entries.ts'
import type { EntryFormat } from './entries.ts'
import { ExitCode, bytesText, color, keyValues, printJson, table, usageError, write } from './output.ts'

/** True when `path` is a journal directory (it holds the journal marker). */
export function isJournalDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory() && existsSync(join(path, MARKER_NAME))
  } catch {
    return false
  }
}

/** Options shared by `cat` and `tail` of a journal. */
export interface JournalPrintOptions {
  json?: boolean
  hex?: boolean
  offsets?: boolean
  raw?: boolean
  bytes?: string
}

function formatOf(options: JournalPrintOptions): EntryFormat {
  if (options.raw === true) throw usageError('--raw prints bytes: a journal is read by entries (read a segment file for its bytes)')
  if (options.bytes !== undefined) throw usageError('--bytes counts raw bytes: a journal is read by entries (use --lines)')
  return options.json === true ? 'json' : options.hex === true ? 'hex' : 'text'
}

/** A line per entry; JSON lines carry the position and the time. */
function line(entry: JournalEntry, format: EntryFormat, positions: boolean): string {
  if (format === 'json') {
    const fields = JSON.parse(formatEntry(entry.position, entry.data, 'json', false, false)) as Record<string, unknown>
    const { offset: _offset, ...rest } = fields
    return JSON.stringify({ position: entry.position, time: entry.time, ...rest })
  }
  return formatEntry(entry.position, entry.data, format, false, positions)
}

/** `--from`/`--to`: a position (digits) or a time (anything `Date.parse` reads, or `@<ms>`). */
function parseBound(name: string, value: string): number | { time: number } {
  if (/^\d+$/.test(value)) return Number(value)
  const time = value.startsWith('@') ? Number(value.slice(1)) : Date.parse(value)
  if (!Number.isFinite(time)) throw usageError(`${name} must be a position or a time (ISO 8601, or @milliseconds), got '${value}'`)
  return { time }
}

/** `aof cat DIR`: the journal's entries from `--from` up to `--to`. */
export async function catJournal(dir: string, options: JournalPrintOptions & { from?: string; to?: string }): Promise<number> {
  const format = formatOf(options)
  const reader = JournalReader.open(dir)
  try {
    const from = options.from === undefined ? 'start' : parseBound('--from', options.from)
    let to: number | undefined
    if (options.to !== undefined) {
      const bound = parseBound('--to', options.to)
      to = typeof bound === 'number' ? bound : positionAtTime(dir, bound.time, reader.nextPosition)
    }
    let out = ''
    for (const entry of reader.read({ from, ...(to === undefined ? {} : { to }) })) {
      out += `${line(entry, format, options.offsets === true)}\n`
      if (out.length > 65536) {
        await write(out)
        out = ''
      }
    }
    if (out.length > 0) await write(out)
    return ExitCode.ok
  } finally {
    reader.close()
  }
}

/** `aof tail [-f] DIR`: the journal's last `count` entries, then (with `follow`) what comes. */
export async function tailJournal(dir: string, count: number, follow: boolean, options: JournalPrintOptions): Promise<number> {
  const format = formatOf(options)
  const reader = JournalReader.open(dir)
  try {
    const from = Math.max(reader.firstPosition, reader.nextPosition - count)
    if (!follow) {
      for (const entry of reader.read({ from })) await write(`${line(entry, format, options.offsets === true)}\n`)
      return ExitCode.ok
    }
    const stop = new AbortController()
    const onSignal = (): void => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      for await (const entry of reader.follow({ from, signal: stop.signal })) {
        await write(`${line(entry, format, options.offsets === true)}\n`)
      }
    } catch (error) {
      if (!(stop.signal.aborted && (error as Error).name === 'AbortError')) throw error
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
    return ExitCode.ok
  } finally {
    reader.close()
  }
}

/** What one segment holds, as inspect and verify report it. */
interface SegmentReport {
  base: number
  /** Entries read (up to damage, or the next segment's base). */
  entries: number
  /** Entries it should hold (the next segment's base minus its own), or null for the last. */
  expected: number | null
  dataBytes: number
  finished: boolean
  firstTime: number | null
  lastTime: number | null
  /** The error reading stopped at, if any. */
  damage: string | null
}

/** Reads every entry of every segment of `dir`. */
function readSegments(dir: string): SegmentReport[] {
  const bases = listSegments(dir)
  return bases.map((base, k) => {
    const next = bases[k + 1]
    // The open segment's newest records may still be only in the writer's time ring.
    const times = next === undefined ? segmentTimes(dir, base) : readIndex(timeIndexPath(dir, base))
    const report: SegmentReport = {
      base,
      entries: 0,
      expected: next === undefined ? null : next - base,
      dataBytes: 0,
      finished: false,
      firstTime: times.first[0] ?? null,
      lastTime: times.first.at(-1) ?? null,
      damage: null,
    }
    let cursor: SegmentCursor | null = null
    try {
      cursor = new SegmentCursor(dir, base, base)
      cursor.end = next ?? Infinity
      report.dataBytes = cursor.file.size
      report.finished = cursor.file.state === FileState.EOF && next !== undefined
      while (cursor.next() !== null) report.entries++
      // The writer publishes an entry's time before the entry: a time for a position never
      // appended (an append refused after it) is no entry's.
      let last = times.second.length - 1
      while (last >= 0 && times.second[last]! >= base + report.entries) last--
      report.firstTime = last >= 0 ? times.first[0]! : null
      report.lastTime = last >= 0 ? times.first[last]! : null
      if (report.expected !== null && report.entries < report.expected) report.damage = `ends at position ${base + report.entries}, before the next segment's first (${next})`
    } catch (error) {
      report.damage = isAofkitError(error) ? `${error.code}: ${error.message}` : String(error)
    } finally {
      cursor?.close()
    }
    return report
  })
}

/** The pid in the writer's lock file and whether it holds the lock now. */
function writerOf(dir: string): { pid: number | null; open: boolean } {
  const path = join(dir, WRITER_LOCK_NAME)
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return { pid: Number.isSafeInteger(pid) ? pid : null, open: isLocked(path) }
  } catch {
    return { pid: null, open: false }
  }
}

function timeText(time: number | null): string {
  return time === null ? '-' : new Date(time).toISOString()
}

/** `aof inspect DIR` (and `aof verify DIR`, which reports only what is wrong). */
export async function inspectJournal(dir: string, options: { json?: boolean }, verifyOnly = false): Promise<number> {
  checkJournal(dir)
  const segments = readSegments(dir)
  const first = segments[0]?.base ?? 0
  const lastSegment = segments.at(-1)
  const next = lastSegment === undefined ? 0 : lastSegment.base + lastSegment.entries
  const damaged = segments.filter((segment) => segment.damage !== null)
  const consumers = listConsumers(dir)
  const damagedConsumers = consumers.filter((info) => info.error !== null)
  const status = damaged.length === 0 && damagedConsumers.length === 0 ? ExitCode.ok : ExitCode.problem
  const writer = writerOf(dir)
  const dataBytes = segments.reduce((sum, segment) => sum + segment.dataBytes, 0)
  if (options.json === true) {
    printJson({ dir, kind: 'journal', firstPosition: first, nextPosition: next, dataBytes, writer, segments, consumers, damaged: status !== ExitCode.ok })
    return status
  }
  let out = ''
  if (!verifyOnly) {
    out += `${color.bold(dir)}: journal\n`
    out += keyValues([
      ['entries', `${next - first} (positions ${first} to ${next - 1}; next ${next})`],
      ['segments', `${segments.length}, ${bytesText(dataBytes)} of data`],
      ['times', `${timeText(segments[0]?.firstTime ?? null)} to ${timeText(lastSegment?.lastTime ?? null)}`],
      ['writer', writer.open ? color.green(`pid ${writer.pid ?? '?'}, open`) : `none open${writer.pid === null ? '' : ` (last: pid ${writer.pid})`}`],
      ['consumers', consumers.length === 0 ? 'none' : consumers.map((info) => `${info.name} (${info.error === null ? `committed ${info.committed}` : color.red('damaged')}, lag ${info.lag}${info.holdsRetention ? ', holds retention' : ''})`).join(', ')],
    ])
    out += table(
      ['segment', 'entries', 'data', 'state', 'first time', 'last time'],
      segments.map((segment) => [
        String(segment.base),
        String(segment.entries),
        bytesText(segment.dataBytes),
        segment.damage !== null ? color.red('damaged') : segment.finished ? 'finished' : 'open',
        timeText(segment.firstTime),
        timeText(segment.lastTime),
      ]),
      ['right', 'right', 'right'],
    )
    out += '\n'
  }
  for (const segment of damaged) out += `${color.red('damaged')}: segment ${segment.base}: ${segment.damage}\n`
  for (const { name, error } of damagedConsumers) out += `${color.red('damaged')}: consumer ${name}: ${error?.code}: ${error?.message}\n`
  if (verifyOnly && status === ExitCode.ok) out += `${color.green('ok')}: ${dir}: ${segments.length} segments, ${next - first} entries, every record checked\n`
  await write(out)
  return status
}
