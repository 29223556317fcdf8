/**
 * `aof stats FILE|DIR...`: a table of a set of files as another process sees them (kind,
 * state, writer, sizes, entries); the statistics running processes publish (`*.stats.json`,
 * the Manager's `statsFile` option); then the statistics of a Manager that opened each file
 * read-only and read it through once.
 * @module
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

import type { Command } from 'commander'

import { Manager } from '../../aof/manager.ts'
import { RecoveryReadOnly } from '../../aof/open-file.ts'
import { Operation, STATS_KEYS } from '../../aof/stats.ts'
import type { Stats } from '../../aof/stats.ts'
import { processAlive } from '../../aof/shm.ts'
import { readPublishedStats } from '../../aof/stats-file.ts'
import type { PublishedStats } from '../../aof/stats-file.ts'
import { ErrorCode, isAofkitError } from '../../errors.ts'
import { LogReader } from '../../log/log-reader.ts'
import { scanLog } from '../../log/scan.ts'
import { AppendOnlyFileSource } from '../../log/sources.ts'
import { Container, Content, Life, openInput } from '../input.ts'
import { ExitCode, color, humanBytes, printJson, table, usageError, warn, write } from '../output.ts'

interface StatsOptions {
  json?: boolean
  all?: boolean
}

/** One row of the file table. */
interface FileRow {
  path: string
  container: string
  content: string
  life: string | null
  writerPid: number | null
  writerAlive: boolean | null
  fileSize: number
  dataSize: number
  allocatedSize: number | null
  entries: number | null
  damaged: boolean
}

/** Files named on the command line; a directory stands for the files in it (not sidecars). */
function expand(paths: readonly string[]): string[] {
  const files: string[] = []
  for (const path of paths) {
    let isDirectory = false
    try {
      isDirectory = statSync(path).isDirectory()
    } catch {
      // openInput reports it
    }
    if (!isDirectory) {
      files.push(path)
      continue
    }
    for (const name of readdirSync(path).sort()) {
      if (name.endsWith('-shm') || name.endsWith('.compact') || name.endsWith('.tmp') || /\.cut-\d+(\.\d+)?$/.test(name)) continue
      const full = join(path, name)
      if (statSync(full).isFile()) files.push(full)
    }
  }
  return files
}

/** Reads every entry (or every byte) of the open file; returns the entries read, or null for raw data. */
async function readPass(manager: Manager, path: string, isLog: boolean): Promise<{ entries: number | null; damaged: boolean }> {
  const file = manager.open(path, { recovery: RecoveryReadOnly })
  try {
    if (!isLog) {
      // Touch every page of the data, as a reader would.
      const bytes = file.contents()
      let sum = 0
      for (let at = 0; at < bytes.length; at += 4096) sum += bytes[at] ?? 0
      return { entries: null, damaged: Number.isNaN(sum) }
    }
    const reader = new LogReader(new AppendOnlyFileSource(file))
    let entries = 0
    let damaged = false
    for (;;) {
      try {
        if (reader.read() === null) break
        entries++
      } catch (error) {
        damaged = true
        // After a corrupt record the reader resyncs; the end inside an entry is final.
        if (!isAofkitError(error, ErrorCode.LogCorrupted)) break
      }
    }
    return { entries, damaged }
  } finally {
    // One file at a time: closes left running together would each be timed over the others'
    // work too, and closeDur would sum to more than the run took.
    await file.close()
  }
}

function duration(ns: number): string {
  if (ns < 1e3) return `${ns} ns`
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`
  return `${(ns / 1e9).toFixed(2)} s`
}

/** The count that goes with each duration: `closeDur` → `closes`. */
const COUNT_OF = new Map<keyof Stats, keyof Stats>(
  Object.values(Operation).flatMap((keys) => [
    [keys.duration, keys.count],
    [keys.errorsDuration, keys.errors],
  ]),
)

/**
 * A duration statistic is the time of every call added up: with its number of calls and the
 * mean, so that a total over calls that overlapped is not read as time that passed.
 */
function statValue(key: keyof Stats, stats: Stats): string {
  const value = stats[key]
  if (key.endsWith('Dur')) {
    const countKey = COUNT_OF.get(key)
    const count = countKey === undefined ? 0 : stats[countKey]
    if (count <= 0) return `${duration(value)} in all`
    return `${duration(value)} over ${count} call${count === 1 ? '' : 's'}, ${duration(Math.round(value / count))} each`
  }
  if (/Memory|Size/.test(key)) return `${value} (${humanBytes(value)})`
  return String(value)
}

const DURATION_NOTE = 'durations (…Dur): the time of every call added up; calls that ran at the same time (asynchronous closes, syncs) add up to more than the time that passed'

/** A table of `stats`: every non-zero statistic, or every one with `all`. */
function statsTable(stats: Stats, all: boolean): string {
  const keys = STATS_KEYS.filter((key) => all || stats[key] !== 0)
  const body = table(
    ['statistic', 'value'],
    keys.map((key) => [key, statValue(key, stats)]),
    ['left', 'right'],
  )
  return keys.some((key) => key.endsWith('Dur')) ? `${body}${color.dim(DURATION_NOTE)}\n` : body
}

/** Statistics files a Manager publishes (its `statsFile` option) are named like this. */
function isStatsFile(path: string): boolean {
  return path.endsWith('.stats.json')
}

/** The table of one published statistics file. */
function publishedTable(path: string, published: PublishedStats, all: boolean): string {
  const age = Math.max(0, (Date.now() - published.time) / 1000).toFixed(1)
  const who = published.closed
    ? `pid ${published.pid}, closed its manager`
    : processAlive(published.pid)
      ? color.green(`pid ${published.pid}, running`)
      : color.red(`pid ${published.pid}, gone`)
  const body = statsTable(published.stats, all)
  const files = published.files.length === 0 ? 'no files open' : published.files.join(', ')
  return `${color.bold('Published statistics')} ${path} ${color.dim(`(${who}; written ${age} s ago; ${files})`)}\n${body}\n`
}

/** Runs `aof stats`. */
export async function stats(paths: readonly string[], options: StatsOptions): Promise<number> {
  const expanded = expand(paths)
  const files = expanded.filter((path) => !isStatsFile(path))
  const published: { path: string; stats: PublishedStats }[] = []
  for (const path of expanded.filter(isStatsFile)) {
    try {
      published.push({ path, stats: readPublishedStats(path) })
    } catch (error) {
      warn(`${path}: ${(error as Error).message}`)
    }
  }
  if (files.length === 0 && published.length === 0) throw usageError('no files to look at')
  const manager = new Manager({ flushIntervalMs: 0 })
  const rows: FileRow[] = []
  try {
    for (const path of files) {
      const input = openInput(path)
      try {
        const row: FileRow = {
          path,
          container: input.container,
          content: input.content,
          life: input.life,
          writerPid: input.sidecar?.writerPid ?? null,
          writerAlive: input.sidecar?.writerAlive ?? null,
          fileSize: input.fileSize,
          dataSize: input.dataSize,
          allocatedSize: input.sidecar?.allocatedSize ?? null,
          entries: null,
          damaged: input.life === Life.Damaged,
        }
        // Only append-only files go through the Manager (it maps them read-only).
        if (input.container === Container.AppendOnly && input.fileSize > 0 && input.dataSize > 0) {
          const pass = await readPass(manager, path, input.content === Content.RecordLog || input.content === Content.StateLog)
          row.entries = pass.entries
          row.damaged ||= pass.damaged
        } else if (input.content === Content.RecordLog || input.content === Content.StateLog) {
          const scan = scanLog(input.source())
          row.entries = scan.entries
          row.damaged ||= scan.damaged.length > 0
        }
        rows.push(row)
      } catch (error) {
        warn(`${path}: ${(error as Error).message}`)
      } finally {
        input.close()
      }
    }
  } finally {
    await manager.close()
  }
  const managerStats = manager.stats()
  if (options.json === true) {
    printJson({ files: rows, published, manager: managerStats })
    return rows.some((row) => row.damaged) ? ExitCode.problem : ExitCode.ok
  }
  const fileTable = table(
    ['file', 'kind', 'state', 'writer', 'data', 'on disk', 'entries'],
    rows.map((row) => [
      row.path,
      row.container === Container.AppendOnly ? `aof: ${row.content}` : `plain: ${row.content}`,
      row.damaged ? color.red(row.life === null ? 'damaged' : row.life === Life.Damaged ? row.life : `${row.life}, damaged`) : row.life === null ? '-' : row.life === Life.Live ? color.green(row.life) : row.life,
      row.writerPid === null || row.writerPid === 0 ? '-' : `${row.writerPid} ${row.writerAlive === true ? 'alive' : 'gone'}`,
      humanBytes(row.dataSize),
      humanBytes(row.fileSize),
      row.entries === null ? '-' : String(row.entries),
    ]),
    ['left', 'left', 'left', 'left', 'right', 'right', 'right'],
  )
  const publishedTables = published.map((entry) => publishedTable(entry.path, entry.stats, options.all === true)).join('\n')
  const own = `${color.bold('Manager statistics')} ${color.dim('(this process: each append-only file opened read-only and read once)')}\n${statsTable(managerStats, options.all === true)}`
  await write(files.length === 0 ? publishedTables : `${fileTable}\n${publishedTables}${publishedTables === '' ? '' : '\n'}${own}`)
  return rows.some((row) => row.damaged) ? ExitCode.problem : ExitCode.ok
}

/** Registers `aof stats`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('stats')
    .description('a table of files (state, writer, sizes, entries) and the statistics of a Manager reading them')
    .argument('<paths...>', 'files (data files, or *.stats.json a Manager publishes), or directories (their files), e.g. a running demo’s directory')
    .option('--json', 'print {files: [...], manager: Stats}')
    .option('--all', 'list every statistic, zeros included')
    .addHelpText(
      'after',
      '\nA running process’s Manager counters are shown when it publishes them (the Manager option\n' +
        'statsFile, a *.stats.json file; the demo does); otherwise the file table shows what the files and\n' +
        'their -shm sidecars say (committed size, writer pid, allocation).\n' +
        'Exit codes: 0 ok, 1 a file is damaged, 2 usage error.',
    )
    .action(async (paths: string[], options: StatsOptions) => {
      done(await stats(paths, options))
    })
}
