/**
 * Where a cross-process reader's wake-up time goes, from the kernel's scheduler events: runs
 * bench/tail-latency.bench.ts with the `sched_wakeup` and `sched_switch` tracepoints on, then
 * tells, for each reader process, how its wake-ups were served:
 *
 * - it preempted the writer at once (the writer's CPU, served in about 1 µs);
 * - it waited on the writer's CPU until the writer slept (about 10 µs in the benchmark);
 * - it was woken on the other CPU (an idle vCPU's wake-up: 15–20 µs in a VM that halts them).
 *
 * and how long it ran per wake-up. Which of the first two a wake-up gets is the scheduler's
 * choice (EEVDF: whether the reader's virtual deadline comes before the writer's), and a
 * reader that runs longer per wake-up gets it less often: docs/PERFORMANCE.md, "The scheduler
 * and cross-process latency".
 *
 *   sudo node --import tsx bench/wakeup-trace.ts     (BENCH_ROUNDS etc. pass through; default 1 round)
 *
 * Needs root and tracefs at /sys/kernel/tracing; says so and exits otherwise.
 * @module
 */
import { execFileSync, spawn } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { median } from './harness.ts'
import { traced, tracingUnavailable } from './tracefs.ts'

const BENCH = fileURLToPath(new URL('./tail-latency.bench.ts', import.meta.url))

/** The benchmark's child modes, as its table names them. */
const SUBJECTS: Record<string, string> = {
  'aof-tail': 'other process openReader+tail()',
  'aof-subscribe': 'other process openReader+subscribe()',
  'sidecar-watch': 'diagnostic: inotify watch(sidecar) + readSync',
  'sidecar-fs-watch': 'diagnostic: fs.watch(sidecar) + readSync',
  watch: 'baseline: fs.watch + readSync',
  tail: 'baseline: npm tail',
}

type Service = 'preempted' | 'afterSleep' | 'otherCpu' | 'other'

interface Reader {
  name: string
  served: Record<Service, number[]>
  runs: number[]
  pendingWake: { at: number; waker: number } | null
  runningSince: number | null
}

async function runBench(): Promise<{ writer: number; readers: Map<number, string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BENCH], {
    stdio: ['ignore', 'inherit', 'pipe'],
    env: { BENCH_ROUNDS: '1', ...process.env, BENCH_PIDS: '1' },
  })
  const readers = new Map<number, string>()
  const lines = createInterface({ input: child.stderr })
  lines.on('line', (line) => {
    const match = /^bench-pid (\d+) (\S+)$/.exec(line)
    if (match === null) process.stderr.write(`${line}\n`)
    else if (SUBJECTS[match[2]!] !== undefined) readers.set(Number(match[1]), SUBJECTS[match[2]!]!)
  })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`the benchmark exited with ${String(code)}`)
  return { writer: child.pid!, readers }
}

const LINE = /^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(sched_wakeup|sched_switch):\s+(.*)$/

async function classify(path: string, writer: number, names: Map<number, string>): Promise<Reader[]> {
  const readers = new Map<number, Reader>()
  for (const [pid, name] of names) {
    readers.set(pid, { name, served: { preempted: [], afterSleep: [], otherCpu: [], other: [] }, runs: [], pendingWake: null, runningSince: null })
  }
  for await (const line of createInterface({ input: createReadStream(path) })) {
    const match = LINE.exec(line)
    if (match === null) continue
    const current = Number(match[2])
    const at = Number(match[4]) * 1e6
    const fields = match[6]!
    if (match[5] === 'sched_wakeup') {
      const reader = readers.get(Number(/ pid=(\d+)/.exec(fields)?.[1]))
      if (reader !== undefined) reader.pendingWake = { at, waker: current }
      continue
    }
    const switched = /prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)/.exec(fields)
    if (switched === null) continue
    const previous = Number(switched[1])
    const leaving = readers.get(previous)
    if (leaving?.runningSince != null) {
      leaving.runs.push(at - leaving.runningSince)
      leaving.runningSince = null
    }
    const entering = readers.get(Number(switched[3]))
    if (entering === undefined) continue
    entering.runningSince = at
    const wake = entering.pendingWake
    entering.pendingWake = null
    if (wake === null) continue
    let service: Service
    if (wake.waker !== writer) service = 'otherCpu'
    else if (previous !== writer) service = 'other'
    else service = switched[2]!.startsWith('R') ? 'preempted' : 'afterSleep'
    entering.served[service].push(at - wake.at)
  }
  return [...readers.values()]
}

async function main(): Promise<void> {
  const unavailable = tracingUnavailable()
  if (unavailable !== '') {
    console.log(`skipped: ${unavailable}`)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-wakeup-trace-'))
  try {
    const path = join(dir, 'trace')
    const run = await traced({ events: ['sched:sched_wakeup', 'sched:sched_switch'], bufferKb: 262144 }, runBench, (tracePath) => {
      execFileSync('cp', [tracePath, path])
    })
    const readers = await classify(path, run.writer, run.readers)
    console.log('\nScheduler events of each reader\'s wake-ups (share of wake-ups, and median µs from wake-up to running)')
    console.log('| reader | wake-ups | preempted the writer | waited for the writer to sleep | woken on the other CPU | on CPU per wake-up, p50 µs |')
    console.log('|---|---:|---:|---:|---:|---:|')
    for (const reader of readers) {
      const total = Object.values(reader.served).reduce((sum, list) => sum + list.length, 0)
      const cell = (list: number[]): string => `${((100 * list.length) / total).toFixed(1)}% (${list.length === 0 ? '–' : median(list).toFixed(0)} µs)`
      console.log(
        `| ${reader.name} | ${total} | ${cell(reader.served.preempted)} | ${cell(reader.served.afterSleep)} | ${cell(reader.served.otherCpu)} | ${reader.runs.length === 0 ? '–' : median(reader.runs).toFixed(0)} |`,
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
