/**
 * A small shared harness for the benchmarks in this folder: timing, medians, per-thread CPU and
 * page-fault counters of the main thread, and table formatting.
 * @module
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

/** CPU time and minor page faults of one thread (Linux: /proc/self/task/<tid>/stat). */
export interface ThreadCounters {
  /** Minor page faults. */
  minorFaults: number
  /** User CPU milliseconds (10 ms resolution). */
  userMs: number
  /** System CPU milliseconds (10 ms resolution). */
  systemMs: number
}

const CLOCK_TICK_MS = 10

/**
 * Counters of the main thread only (its tid is the pid). `process.resourceUsage()` sums every
 * thread, including the libuv pool that prefaults ahead of the writer, so it cannot tell what
 * the writer itself paid.
 */
export function mainThreadCounters(): ThreadCounters {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    // Fields after the command name "(...)": state is field 3; minflt 10, utime 14, stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {
      minorFaults: Number(fields[7]),
      userMs: Number(fields[11]) * CLOCK_TICK_MS,
      systemMs: Number(fields[12]) * CLOCK_TICK_MS,
    }
  } catch {
    const usage = process.resourceUsage()
    return { minorFaults: usage.minorPageFault, userMs: usage.userCPUTime / 1000, systemMs: usage.systemCPUTime / 1000 }
  }
}

/** Difference `after - before`. */
export function counterDelta(before: ThreadCounters, after: ThreadCounters): ThreadCounters {
  return {
    minorFaults: after.minorFaults - before.minorFaults,
    userMs: after.userMs - before.userMs,
    systemMs: after.systemMs - before.systemMs,
  }
}

/** Monotonic nanoseconds. */
/**
 * Imports a package a benchmark compares with, listed in bench/package.json rather than in
 * aofkit's own dependencies; null, with a note on stderr, when it is not installed.
 */
export async function comparedPackage<T>(name: string): Promise<T | null> {
  try {
    return (await import(name)) as T
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    process.stderr.write(`${name} is not installed, so it is left out: run npm install --prefix bench\n`)
    return null
  }
}

export function nowNs(): number {
  return Number(process.hrtime.bigint())
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** Gives the event loop one turn (completions of pool work run here). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A one-line description of the machine, for the record. */
export function machine(): string {
  const list = cpus()
  const model = list[0]?.model.trim() ?? 'unknown CPU'
  return `${list.length} × ${model}, Linux ${release()}, Node.js ${process.version}`
}

/** Formats records/s as "12.34 M/s". */
export function rate(recordsPerSecond: number): string {
  return `${(recordsPerSecond / 1e6).toFixed(2)} M/s`
}

/** Left-aligned text columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[], rightAligned: readonly boolean[] = []): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)))
  const line = (row: readonly string[]): string =>
    row.map((cell, index) => (rightAligned[index] === true ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0))).join('  ')
  const [header, ...body] = rows
  if (header === undefined) return ''
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line)].join('\n')
}

/** A TCP port on 127.0.0.1 that nothing listens on now, for a peer server a benchmark starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** bench/latency-child.ts: the one reader of the live-reader benchmarks, in a process (or a worker thread). */
export const LATENCY_CHILD = fileURLToPath(new URL('latency-child.ts', import.meta.url))

/** A reader process of {@link startReadyChild}. */
export interface LatencyChild<T> {
  child: ChildProcess
  /** Resolves once it follows its target. */
  ready: Promise<void>
  /** What it printed when done (JSON); rejects when it exits otherwise. */
  result: Promise<T>
}

/**
 * Starts {@link LATENCY_CHILD} in a process: in `mode`, following `target` until it has seen
 * `count` records of `recordBytes` (see that file for the modes and what each prints).
 */
export function startLatencyChild<T = number[]>(mode: string, target: string, count: number, recordBytes: number): LatencyChild<T> {
  return startReadyChild<T>(['--import', 'tsx', LATENCY_CHILD, mode, target, String(count), String(recordBytes)], `${mode} reader`)
}

/**
 * Starts `node ...args`, a reader that prints `ready` on a line once it follows its target, then
 * what it measured as JSON when done. `what` names it in errors.
 */
export function startReadyChild<T>(args: readonly string[], what: string): LatencyChild<T> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  let onReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const result = new Promise<T>((resolve, reject) => {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (data: string) => {
      text += data
      if (text.startsWith('ready\n')) onReady()
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} exited with ${String(code)}`))
      else resolve(JSON.parse(text.slice('ready\n'.length)) as T)
    })
  })
  return { child, ready, result }
}
