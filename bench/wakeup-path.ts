/**
 * Where a cross-process wake-up's time goes, step by step, from the kernel's tracepoints: the
 * writer here appends one 16-byte record stamped with `process.hrtime.bigint()` and awaits a
 * 1 ms timer, as bench/tail-latency.bench.ts does; one reader at a time follows in another
 * process (bench/latency-child.ts). The trace clock is CLOCK_MONOTONIC, the clock of the
 * stamps, and for each record it gives:
 *
 * - stamp → poke: the writer's work before the system call that wakes the reader (aofkit's
 *   one-byte read of the sidecar; `fs.writeSync` of the record for the baseline);
 * - poke → wake-up: that call, up to the kernel's wake-up of the reader (inotify);
 * - poke → writer sleeps: how long the writer keeps its CPU after the poke;
 * - wake-up → on CPU: the reader waiting for a CPU (mostly for the writer to sleep);
 * - on CPU → epoll returns, then → the reader's read of the data (libuv, the inotify read, the
 *   callback into JavaScript and the reader's code up to its `pread`);
 * - data read → observed: the rest, to the moment the reader took its clock.
 *
 *   sudo node --import tsx bench/wakeup-path.ts     (BENCH_ROUNDS 2, BENCH_SAMPLES 1000)
 *
 * Needs root and tracefs at /sys/kernel/tracing; says so and exits otherwise. Tracing each
 * system call adds to every step; compare the subjects with one another, not with the
 * untraced benchmark.
 * @module
 */
import './built.ts'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

import { AppendOnlyFile } from '../dist/index.js'
import { median, startLatencyChild } from './harness.ts'
import { traced, tracingUnavailable } from './tracefs.ts'

const WARMUP = 100
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 1000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2)
const TOTAL = WARMUP + SAMPLES
const RECORD = 16
const SUBJECTS = { 'aof-subscribe': 'openReader + subscribe()', 'aof-tail': 'openReader + tail()', watch: 'fs.watch + readSync (baseline)' } as const
type Mode = keyof typeof SUBJECTS
const STEPS = ['stamp → poke', 'poke → wake-up', 'poke → writer sleeps', 'wake-up → on CPU', 'on CPU → epoll returns', 'epoll → data read', 'data read → observed', 'total'] as const
type Step = (typeof STEPS)[number]

interface Event {
  at: number
  pid: number
  name: string
  fields: string
}

const LINE = /^\s*\S+-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+([a-z_0-9]+)(.*)$/

/** Follows `path` in a child while this process writes TOTAL records; the trace and what the child measured. */
async function tracedRun(mode: Mode, path: string, write: (stamp: bigint) => void): Promise<{ events: Event[]; stamps: bigint[]; latencies: number[]; writer: number; reader: number }> {
  const { child, ready, result } = startLatencyChild(mode, path, TOTAL, RECORD)
  await ready
  // fs.watch needs a moment to install its watch after the child says it is ready.
  await sleep(50)
  const writer = process.pid
  const reader = child.pid!
  const stamps: bigint[] = []
  let trace = ''
  const events = ['sched:sched_wakeup', 'sched:sched_switch', 'syscalls:sys_enter_pread64', 'syscalls:sys_enter_write', 'syscalls:sys_exit_epoll_wait', 'syscalls:sys_exit_epoll_pwait']
  await traced(
    { events, bufferKb: 65536, clock: 'mono', pids: [writer, reader] },
    async () => {
      for (let written = 0; written < TOTAL; written++) {
        const stamp = process.hrtime.bigint()
        stamps.push(stamp)
        write(stamp)
        await sleep(1)
      }
      await result
    },
    (tracePath) => (trace = readFileSync(tracePath, 'utf8')),
  )
  const parsed: Event[] = []
  for (const line of trace.split('\n')) {
    const match = LINE.exec(line)
    if (match !== null) parsed.push({ pid: Number(match[1]), at: Math.round(Number(match[2]) * 1e9), name: match[3]!, fields: `${match[4]!} ` })
  }
  return { events: parsed, stamps, latencies: await result, writer, reader }
}

/** The steps of each measured record, in ns; records whose events were not all found are left out. */
function steps(mode: Mode, run: Awaited<ReturnType<typeof tracedRun>>): { steps: Record<Step, number[]>; preempted: number } {
  const { events, stamps, latencies, writer, reader } = run
  const out = Object.fromEntries(STEPS.map((step) => [step, [] as number[]])) as Record<Step, number[]>
  const poke = mode === 'watch' ? 'sys_write' : 'sys_pread64'
  let preempted = 0
  let from = 0
  for (let k = WARMUP; k < TOTAL; k++) {
    const stamp = Number(stamps[k]!)
    const observed = stamp + latencies[k]!
    while (from < events.length && events[from]!.at < stamp) from++
    let at = from
    while (at < events.length && !(events[at]!.pid === writer && events[at]!.name === poke)) at++
    if (at >= events.length || events[at]!.at > observed) continue
    const poked = events[at]!.at
    let woken = -1
    let running = -1
    let polled = -1
    let read = -1
    let sleeps = -1
    let byPreemption = false
    for (let next = at; next < events.length && events[next]!.at <= observed + 2_000_000; next++) {
      const event = events[next]!
      if (sleeps < 0 && event.name === 'sched_switch' && event.fields.includes(`prev_pid=${writer} `) && event.fields.includes('prev_state=S')) sleeps = event.at
      if (event.at > observed) continue
      if (woken < 0) {
        if (event.name === 'sched_wakeup' && event.fields.includes(`pid=${reader} `)) woken = event.at
      } else if (running < 0) {
        if (event.name === 'sched_switch' && event.fields.includes(`next_pid=${reader} `)) {
          running = event.at
          byPreemption = event.fields.includes(`prev_pid=${writer} `) && /prev_state=R/.test(event.fields)
        }
      } else if (polled < 0) {
        if (event.pid === reader && event.name.startsWith('sys_epoll')) polled = event.at
      } else if (read < 0 && event.pid === reader && event.name === 'sys_pread64') read = event.at
    }
    if (read < 0 || sleeps < 0) continue
    if (byPreemption) preempted++
    out['stamp → poke'].push(poked - stamp)
    out['poke → wake-up'].push(woken - poked)
    out['poke → writer sleeps'].push(sleeps - poked)
    out['wake-up → on CPU'].push(running - woken)
    out['on CPU → epoll returns'].push(polled - running)
    out['epoll → data read'].push(read - polled)
    out['data read → observed'].push(observed - read)
    out.total.push(observed - stamp)
  }
  return { steps: out, preempted }
}

async function main(): Promise<void> {
  const unavailable = tracingUnavailable()
  if (unavailable !== '') {
    console.log(`skipped: ${unavailable}`)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-wakeup-path-'))
  const stamp = Buffer.alloc(RECORD)
  const rows: string[] = []
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of Object.keys(SUBJECTS) as Mode[]) {
        const path = join(dir, `${mode}-${round}`)
        let write: (time: bigint) => void
        let close: () => unknown
        if (mode === 'watch') {
          const fd = openSync(path, 'w')
          write = (time) => {
            stamp.writeBigUInt64LE(time)
            writeSync(fd, stamp)
          }
          close = () => closeSync(fd)
        } else {
          // The default geometry, as a user gets it.
          const file = AppendOnlyFile.open(path, { create: true })
          write = (time) => {
            stamp.writeBigUInt64LE(time)
            file.write(stamp)
          }
          close = () => file.close()
        }
        const run = await tracedRun(mode, path, write)
        await close()
        const { steps: measured, preempted } = steps(mode, run)
        const count = measured.total.length
        const cells = STEPS.map((step) => (measured[step].length === 0 ? '–' : (median(measured[step]) / 1000).toFixed(1)))
        rows.push(`| ${round + 1} | ${SUBJECTS[mode]} | ${count} | ${((100 * preempted) / Math.max(1, count)).toFixed(0)}% | ${cells.join(' | ')} |`)
        process.stderr.write(`round ${round + 1}, ${SUBJECTS[mode]}: ${count} records traced\n`)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(`\n${SAMPLES} records after ${WARMUP} warm-up per subject and round, medians in µs (every system call traced)`)
  console.log(`| round | reader | records | preempted the writer | ${STEPS.join(' | ')} |`)
  console.log(`|---|---|---:|---:|${STEPS.map(() => '---:').join('|')}|`)
  for (const row of rows) console.log(row)
}

await main()
