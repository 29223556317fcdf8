/**
 * `aof cat` and `aof tail` of a journal directory: its entries by position, one per line (text,
 * JSON or hex, as for a record log), with `--from`/`--to` as positions or times, and `tail -f`
 * following the writer across segment rolls and restarts.
 * @module
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { JournalReader } from '../journal/journal-reader.ts'
import { MARKER_NAME } from '../journal/layout.ts'
import { positionAtTime } from '../journal/positions.ts'
import type { JournalEntry } from '../journal/segment-cursor.ts'
import { formatEntry } from './entries.ts'
import type { EntryFormat } from './entries.ts'
import { ExitCode, usageError, write } from './output.ts'

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
