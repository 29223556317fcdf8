/**
 * Every benchmark at once: runs bench/*.bench.ts as child processes with `--json` and prints a
 * summary table of ratios (aofkit against each baseline). A source checkout's tool, not part
 * of the package: the benchmarks are TypeScript run through tsx, and some baselines are
 * devDependencies.
 *
 *   npm run bench:all -- [--quick] [--only aof-write,log] [--json] [--verbose]
 * @module
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Command, CommanderError } from 'commander'

import { CliCode, ExitCode, color, describeError, printJson, progressBar, streams, table, usageError, write, writeError } from '../src/cli/output.ts'

interface BenchOptions {
  quick?: boolean
  only?: string
  json?: boolean
  verbose?: boolean
}

/** One line of the summary: how many times faster aofkit is than a baseline (> 1: faster). */
export interface Ratio {
  bench: string
  comparison: string
  ratio: number
}

type Json = Record<string, unknown>

/** A benchmark script, its quick settings, and how to read ratios out of its JSON. */
interface Benchmark {
  name: string
  file: string
  quickArgs: string[]
  quickEnv: Record<string, string>
  ratios(result: Json): Ratio[]
}

function rows(result: Json, key: string): Json[] {
  const value = result[key]
  return Array.isArray(value) ? (value as Json[]) : []
}

function num(row: Json | undefined, key: string): number {
  const value = row?.[key]
  return typeof value === 'number' ? value : Number.NaN
}

/** The benchmarks `aof bench` knows, in the order it runs them. */
export const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'aof-write',
    file: 'aof-write.bench.ts',
    quickArgs: ['--sizes', '100', '--modes', 'burst', '--reps', '1', '--seconds', '0.2'],
    quickEnv: {},
    ratios: (result) =>
      rows(result, 'targets').flatMap((target) => [
        { bench: 'aof-write', comparison: `write() vs fs.writeSync per record (${String(target['size'])} B, ${String(target['mode'])})`, ratio: num(target, 'writeVsWriteSync') },
        { bench: 'aof-write', comparison: `write() vs fs.writeSync, 64 KiB buffer (${String(target['size'])} B, ${String(target['mode'])})`, ratio: num(target, 'writeVsBuffered') },
      ]),
  },
  {
    name: 'log',
    file: 'log.bench.ts',
    quickArgs: [],
    quickEnv: {},
    ratios: (result) => {
      const all = rows(result, 'rows')
      const out: Ratio[] = []
      for (const size of [100, 4096]) {
        const rate = (operation: string, prefix: string): number =>
          num(all.find((row) => row['entrySize'] === size && row['operation'] === operation && String(row['subject']).startsWith(prefix)), 'entriesPerSec')
        const append = rate('append', 'LogWriter -> FileSink')
        out.push({ bench: 'log', comparison: `append to a file vs fs.writeSync per entry (${size} B)`, ratio: append / rate('append', 'baseline: fs.writeSync') })
        out.push({ bench: 'log', comparison: `append to a file vs framed crc32 log (${size} B)`, ratio: append / rate('append', 'baseline: framed log -> file') })
        out.push({
          bench: 'log',
          comparison: `read a file vs framed crc32 log (${size} B)`,
          ratio: rate('read', 'LogReader <- FileSource') / rate('read', 'baseline: framed log <- file'),
        })
      }
      return out
    },
  },
  {
    name: 'state',
    file: 'state.bench.ts',
    quickArgs: [],
    quickEnv: { BENCH_DURATION_MS: '300' },
    ratios: (result) => {
      const values = (result['results'] ?? {}) as Record<string, number>
      return Object.entries(values)
        .filter(([key]) => key.includes('ratio to baseline'))
        .map(([key, value]) => ({
          bench: 'state',
          comparison: `group commit vs write + fdatasync per update (${key.replace(/.*\((.*)\).*/, '$1')})`,
          ratio: value,
        }))
    },
  },
  {
    name: 'checksum',
    file: 'checksum.bench.ts',
    quickArgs: [],
    quickEnv: {},
    ratios: (result) =>
      rows(result, 'results')
        // Ratios are against the first subject, aofkit's own checksum.
        .filter((row) => !String(row['subject']).startsWith('aofkit'))
        .map((row) => ({
          bench: 'checksum',
          comparison: `aofkit's XXH64 vs ${String(row['subject'])} (${String(row['size'])} B)`,
          ratio: 1 / num(row, 'ratio'),
        })),
  },
  {
    name: 'tail-latency',
    file: 'tail-latency.bench.ts',
    quickArgs: [],
    quickEnv: { BENCH_WARMUP: '100', BENCH_SAMPLES: '500', BENCH_ROUNDS: '1', BENCH_CATCHUP_BYTES: String(64 * 1024 * 1024) },
    ratios: (result) => {
      const all = rows(result, 'rows')
      const find = (prefix: string): Json | undefined => all.find((row) => String(row['name']).startsWith(prefix))
      const cross = find('other process openReader')
      const watch = find('baseline: fs.watch')
      const tail = find('baseline: npm tail')
      const catchUp = (result['catchUpGBps'] ?? {}) as Json
      return [
        { bench: 'tail-latency', comparison: 'cross-process follower p50 latency vs fs.watch (lower is better, shown as speed-up)', ratio: num(watch, 'p50') / num(cross, 'p50') },
        { bench: 'tail-latency', comparison: 'cross-process follower p99 latency vs fs.watch', ratio: num(watch, 'p99') / num(cross, 'p99') },
        { bench: 'tail-latency', comparison: 'cross-process follower p50 latency vs npm tail', ratio: num(tail, 'p50') / num(cross, 'p50') },
        { bench: 'tail-latency', comparison: 'catch-up read of a finished file vs fs.readSync 1 MiB chunks', ratio: num(catchUp, 'aof') / num(catchUp, 'read') },
      ]
    },
  },
]

/** The checkout: the folder above this one. */
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const DIR = join(ROOT, 'bench')

/** Runs one benchmark; resolves to its parsed JSON. */
function runOne(bench: Benchmark, quick: boolean, verbose: boolean): Promise<Json> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', join(DIR, bench.file), '--json', ...(quick ? bench.quickArgs : [])]
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...(quick ? bench.quickEnv : {}) },
      stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const start = out.indexOf('{')
      if (code !== 0 || start < 0) {
        const last = err.trim().split('\n').filter((line) => !/^\s+at /.test(line)).at(-1) ?? `exit code ${code}`
        reject(new Error(`bench/${bench.file} failed: ${last}`))
        return
      }
      try {
        resolve(JSON.parse(out.slice(start)) as Json)
      } catch {
        reject(new Error(`bench/${bench.file} printed no JSON`))
      }
    })
  })
}

function ratioText(ratio: number): string {
  if (!Number.isFinite(ratio)) return color.dim('n/a')
  const text = `${ratio.toFixed(2)}×`
  return ratio >= 1 ? color.green(text) : color.yellow(text)
}

/** Runs the benchmarks chosen and prints the summary. */
export async function bench(options: BenchOptions): Promise<number> {
  const selected = options.only === undefined ? BENCHMARKS : options.only.split(',').map((name) => {
    const found = BENCHMARKS.find((candidate) => candidate.name === name.trim())
    if (found === undefined) throw usageError(`no benchmark '${name.trim()}' (choose from ${BENCHMARKS.map((b) => b.name).join(', ')})`)
    return found
  })
  const quick = options.quick === true
  const ratios: Ratio[] = []
  const failures: string[] = []
  const results: Record<string, Json> = {}
  const bar = progressBar('bench', selected.length, { unit: 'items' })
  try {
    for (const [index, benchmark] of selected.entries()) {
      if (streams().stderr.isTTY !== true && options.json !== true) writeError(`running bench/${benchmark.file}${quick ? ' (quick)' : ''}…\n`)
      try {
        const result = await runOne(benchmark, quick, options.verbose === true)
        results[benchmark.name] = result
        ratios.push(...benchmark.ratios(result))
      } catch (error) {
        failures.push((error as Error).message)
      }
      bar.update(index + 1)
    }
  } finally {
    bar.stop()
  }
  if (options.json === true) printJson({ quick, ratios, failures, results })
  else {
    await write(
      table(
        ['bench', 'aofkit compared with', 'ratio'],
        ratios.map((row) => [row.bench, row.comparison, ratioText(row.ratio)]),
        ['left', 'left', 'right'],
      ),
    )
    await write(color.dim(`ratio > 1: aofkit is faster (for latency: lower).${quick ? ' Quick run: short and noisy; see docs/BENCHMARKS.md for the full figures.' : ''}\n`))
    for (const failure of failures) writeError(`bench: ${CliCode.Unavailable}: ${failure}\n`)
  }
  return failures.length === 0 ? ExitCode.ok : ExitCode.problem
}

/** Parses `argv` and runs; resolves to the exit code (errors are one line on stderr). */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok
  const program = new Command('bench:all')
    .description('run every benchmark and print a summary table of ratios')
    .option('--quick', 'short runs with fewer samples: a smoke test, not figures to quote')
    .option('--only <names>', `comma-separated subset: ${BENCHMARKS.map((b) => b.name).join(', ')}`)
    .option('--json', 'print {quick, ratios, failures, results} with every benchmark’s own JSON')
    .option('--verbose', 'show the benchmarks’ own progress on stderr')
    .addHelpText('after', '\nThe full run takes several minutes and wants an idle machine. Exit codes: 0 ok, 1 a benchmark failed, 2 usage error.')
    .exitOverride()
    .action(async (options: BenchOptions) => {
      exitCode = await bench(options)
    })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    const { line, exitCode: code } = describeError(error)
    writeError(`bench: ${line}\n`)
    return code
  }
}

if (process.argv[1] === import.meta.filename) process.exitCode = await main(process.argv.slice(2))
