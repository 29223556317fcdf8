/**
 * What every `aof` command shares: the streams a run reads and writes, exit codes, the one-line
 * error, colours only on a terminal, JSON output, aligned tables, and progress bars only when
 * stderr is a terminal.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { once } from 'node:events'
import { writeSync } from 'node:fs'

import { SingleBar } from 'cli-progress'
import picocolors from 'picocolors'

import { isAofkitError } from '../errors.ts'

/** Exit codes of the `aof` command. */
export const ExitCode = { ok: 0, problem: 1, usage: 2 } as const

/** One of the {@link ExitCode} values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Codes the command line adds to the library's (docs/CLI.md lists them). */
export const CliCode = {
  /** A bad flag, argument or combination of them. */
  Usage: 'ERR_USAGE',
  /** The file is not of a kind the command handles (not an aofkit file, not a state log…). */
  WrongKind: 'ERR_WRONG_KIND',
  /** The file is damaged; details were printed. */
  Damaged: 'ERR_DAMAGED',
  /** The user declined a confirmation. */
  Declined: 'ERR_DECLINED',
  /** Something the command needs is not installed (tsx, the bench folder). */
  Unavailable: 'ERR_UNAVAILABLE',
} as const

/** A failure the command reports as one line, with its exit code. */
export class CliError extends Error {
  /** The stable code printed before the message. */
  readonly code: string
  /** The exit code. */
  readonly exitCode: ExitCode

  constructor(code: string, message: string, exitCode: ExitCode) {
    super(message)
    this.name = 'CliError'
    this.code = code
    this.exitCode = exitCode
  }
}

/** A usage error (exit 2). */
export function usageError(message: string, code: string = CliCode.Usage): CliError {
  return new CliError(code, message, ExitCode.usage)
}

/** A problem found (exit 1). */
export function problemError(message: string, code: string): CliError {
  return new CliError(code, message, ExitCode.problem)
}

// Library codes that mean the input could not be looked at: the user's mistake, exit 2.
const USAGE_CODES: ReadonlySet<string> = new Set([
  'ERR_AOF_NOT_FOUND',
  'ERR_AOF_IS_DIRECTORY',
  'ERR_AOF_READ_PERMISSION',
  'ERR_AOF_INVALID_ARGUMENT',
])

/** The one line (without the `aof: ` prefix) and the exit code for any thrown value. */
export function describeError(error: unknown): { line: string; exitCode: ExitCode } {
  if (error instanceof CliError) return { line: `${error.code}: ${error.message}`, exitCode: error.exitCode }
  if (isAofkitError(error)) {
    return { line: `${error.code}: ${error.message}`, exitCode: USAGE_CODES.has(error.code) ? ExitCode.usage : ExitCode.problem }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { line: message.split('\n')[0] ?? message, exitCode: ExitCode.problem }
}

/** A stream the command writes to; `isTTY` as on a terminal's stream. */
export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean }

/** The stream the command reads answers from. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean }

/**
 * What one run of the command reads and writes: by default the process's own streams and
 * environment; a test (or a program embedding the command) passes others to `run()`.
 */
export interface Streams {
  stdout: OutputStream
  stderr: OutputStream
  stdin: InputStream
  /** The environment colour decisions read (NO_COLOR, FORCE_COLOR, TERM). Default: `process.env`. */
  env?: NodeJS.ProcessEnv
}

/** The colour functions (all identity functions when colour is off). */
export type Colors = ReturnType<typeof picocolors.createColors>

interface Context {
  streams: Streams
  stdoutColors: Colors
}

const contexts = new AsyncLocalStorage<Context>()
let processContext: Context | null = null

function contextOf(streams: Streams): Context {
  return { streams, stdoutColors: colorsFor(streams.stdout, streams.env) }
}

function context(): Context {
  return contexts.getStore() ?? (processContext ??= contextOf({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }))
}

/** Runs `body` with `streams` as the streams every helper here writes to and reads from. */
export function withStreams<T>(streams: Streams, body: () => Promise<T>): Promise<T> {
  return contexts.run(contextOf(streams), body)
}

/** The streams of the run in progress (the process's own outside of one). */
export function streams(): Streams {
  return context().streams
}

/**
 * Colours for `stream`: on when it is a terminal, unless NO_COLOR is set; FORCE_COLOR (not
 * "0") turns them on anywhere.
 */
export function colorsFor(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): Colors {
  let enabled = stream.isTTY === true && env['TERM'] !== 'dumb'
  if (env['FORCE_COLOR'] !== undefined) enabled = env['FORCE_COLOR'] !== '0'
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') enabled = false
  return picocolors.createColors(enabled)
}

/** Colours of the run's standard output. */
export const color: Colors = new Proxy({} as Colors, {
  get: (_, name) => context().stdoutColors[name as keyof Colors],
})

/** Writes to stdout, waiting when the pipe is full (large outputs stay bounded in memory). */
export async function write(text: string | Uint8Array): Promise<void> {
  const stdout = streams().stdout
  if (!stdout.write(text)) await once(stdout, 'drain')
}

/** Writes to stderr (messages, questions: small, never waited for). */
export function writeError(text: string): void {
  streams().stderr.write(text)
}

/**
 * Writes `text` to the process's stdout (descriptor 1) synchronously, so it is out before the
 * next operation (for a process that may be killed at any instant: the demo's children). stdout may be a non-blocking pipe: on EAGAIN, retry until
 * the reader has drained it.
 */
export function writeStdoutSync(text: string): void {
  for (;;) {
    try {
      writeSync(1, text)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
    }
  }
}

/** Prints `value` as indented JSON on stdout. */
export function printJson(value: unknown): void {
  streams().stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** Prints a warning line on stderr (the command goes on). */
export function warn(message: string): void {
  const { stderr, env } = streams()
  stderr.write(`${colorsFor(stderr, env).yellow('aof: warning:')} ${message}\n`)
}

/** `1234567` → `1.2 MiB`; below 1 KiB, bytes. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** `1234567` → `1234567 (1.2 MiB)`: exact for scripts that read the text, readable for people. */
export function bytesText(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${bytes} B (${humanBytes(bytes)})`
}

// Printable width: colour escapes take no room.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g
function width(text: string): number {
  return text.replace(ANSI, '').length
}

/** Column alignment of {@link table}. */
export type Align = 'left' | 'right'

/** An aligned text table with a header row and a rule under it. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((header, column) => Math.max(width(header), ...rows.map((row) => width(row[column] ?? ''))))
  const line = (cells: readonly string[], style: (text: string) => string = (text) => text): string =>
    cells
      .map((cell, column) => {
        const pad = ' '.repeat(Math.max(0, (widths[column] ?? 0) - width(cell)))
        return align[column] === 'right' ? pad + style(cell) : style(cell) + pad
      })
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(headers, color.bold), rule, ...rows.map((row) => line(row))].join('\n') + '\n'
}

/** Two aligned columns, `name  value`, indented by two spaces. */
export function keyValues(rows: readonly (readonly [string, string])[]): string {
  const nameWidth = Math.max(0, ...rows.map(([name]) => name.length))
  return rows.map(([name, value]) => `  ${color.dim(name.padEnd(nameWidth))}  ${value}`).join('\n') + '\n'
}

/** A progress bar on stderr; does nothing unless stderr is a terminal. */
export interface Progress {
  /** Sets the amount done. */
  update(done: number): void
  /** Removes the bar. */
  stop(): void
}

const NO_PROGRESS: Progress = { update: () => undefined, stop: () => undefined }

/**
 * Starts a progress bar for work of `total` units (bytes unless `unit` says otherwise) on
 * stderr. Only on a terminal, and only for work worth a bar (`total` at least `minimum`).
 */
export function progressBar(label: string, total: number, options: { minimum?: number; unit?: 'bytes' | 'items' } = {}): Progress {
  const stderr = streams().stderr
  if (stderr.isTTY !== true || total < (options.minimum ?? 0) || total <= 0) return NO_PROGRESS
  const bytes = (options.unit ?? 'bytes') === 'bytes'
  const bar = new SingleBar({
    stream: stderr,
    format: `${label} [{bar}] {percentage}% | {shown} | ETA {eta_formatted}`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    fps: 10,
  })
  const shown = (done: number): string => (bytes ? `${humanBytes(done)} / ${humanBytes(total)}` : `${done} / ${total}`)
  bar.start(total, 0, { shown: shown(0) })
  return {
    update: (done) => bar.update(Math.min(done, total), { shown: shown(Math.min(done, total)) }),
    stop: () => bar.stop(),
  }
}

/** Parses a non-negative integer option (sizes, offsets, counts); a usage error otherwise. */
export function integerOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isSafeInteger(parsed) || parsed < 0) {
    throw usageError(`${name} must be a non-negative integer, got '${value}'`)
  }
  return parsed
}
