/**
 * Live readers: write-to-observe latency (p50 / p99 / max) of aofkit's followers against
 * fs.watch + readSync and the npm `tail` package, plus catch-up throughput of a reader of a
 * 1 GiB finished file. One run, one machine; all latencies use process.hrtime.bigint(), the
 * monotonic clock shared by every thread and process.
 *
 *   node --import tsx bench/tail-latency.bench.ts [--json]
 *
 * Each reader runs bench/latency-child.ts, in another process or a worker thread; the latency
 * runs of bench/peers.bench.ts use the same child.
 * @module
 */
import './built.ts'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'

import { AppendOnlyFile } from '../dist/index.js'
import { LATENCY_CHILD, startLatencyChild } from './harness.ts'

// As a user measures it: a short warm-up, then 2000 samples, one record about every ms.
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 100)
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 2000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)
const SAME_PROCESS = 'same-process subscribe()'
const WORKER_TAIL = 'worker thread openReader+tail()'
const CROSS_TAIL = 'other process openReader+tail()'
const CROSS_SUBSCRIBE = 'other process openReader+subscribe()'
const CROSS_BUSY = 'other process, busyPoll: true'
const DIAGNOSTIC = 'diagnostic: inotify watch(sidecar) + readSync, no reader code'
const DIAGNOSTIC_FS_WATCH = 'diagnostic: fs.watch(sidecar) + readSync, no reader code'
const WATCH = 'baseline: fs.watch + readSync'
const TAIL = 'baseline: npm tail'
const TOTAL = WARMUP + SAMPLES
/** The writer's pause after each record: `await` a timer of this many ms. */
const PAUSE_MS = Number(process.env['BENCH_PAUSE_MS'] ?? 1)
/** Each record is 16 bytes: the monotonic clock at the write (8 bytes), then 8 of padding. */
const RECORD = 16
const CATCH_UP_BYTES = Number(process.env['BENCH_CATCHUP_BYTES'] ?? 1024 * 1024 * 1024)
const CHUNK = 1024 * 1024

const WORKER_ENTRY = fileURLToPath(new URL('../test/helpers/worker-entry.mjs', import.meta.url))

/** The reader modes of bench/latency-child.ts used here. */
type Mode = 'aof-tail' | 'aof-busy' | 'aof-subscribe' | 'sidecar-watch' | 'sidecar-fs-watch' | 'watch' | 'tail' | 'catchup-aof' | 'catchup-read'

// ---------------------------------------------------------------- writer side

/** Latencies (ns) of the records in `chunk`, observed now (the same-process subject's reader). */
function observe(chunk: Uint8Array, out: number[], carry: { bytes: Uint8Array }): void {
  const now = process.hrtime.bigint()
  let data = chunk
  if (carry.bytes.length > 0) {
    const joined = new Uint8Array(carry.bytes.length + chunk.length)
    joined.set(carry.bytes)
    joined.set(chunk, carry.bytes.length)
    data = joined
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let offset = 0
  for (; offset + RECORD <= data.length; offset += RECORD) {
    out.push(Number(now - view.getBigUint64(offset, true)))
  }
  carry.bytes = data.slice(offset)
}

interface Remote {
  ready: Promise<void>
  result: Promise<unknown>
}

/** Starts bench/latency-child.ts in a process, following `path` until it has seen `records` records (bytes, for catch-up). */
function startChild(mode: Mode, path: string, records = TOTAL): Remote {
  const { child, ready, result } = startLatencyChild<unknown>(mode, path, records, RECORD)
  // For bench/wakeup-trace.ts, which tells the scheduler's events of each reader apart.
  if (process.env['BENCH_PIDS'] === '1') process.stderr.write(`bench-pid ${String(child.pid)} ${mode}\n`)
  return { ready, result }
}

function startWorker(mode: Mode, path: string): Remote {
  const worker = new Worker(WORKER_ENTRY, { workerData: { script: LATENCY_CHILD, mode, target: path, records: TOTAL, recordBytes: RECORD } })
  let onReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const result = new Promise<unknown>((resolve, reject) => {
    worker.on('message', (message: { ready?: boolean; result?: unknown }) => {
      if (message.ready === true) onReady()
      else {
        resolve(message.result)
        void worker.terminate()
      }
    })
    worker.on('error', reject)
  })
  return { ready, result }
}

/** A reader following its own file, started and ready; the writer feeds it stamps. */
interface Follower {
  name: string
  /** Appends one record holding `stamp` to the file this follower reads. */
  write(stamp: bigint): void
  /** The follower's latencies (ns), once it has seen TOTAL records. */
  result: Promise<number[]>
  close(): Promise<void>
}

interface Subject {
  name: string
  start: (dir: string) => Promise<Follower>
}

/**
 * Feeds one follower, the only reader running: TOTAL records, each stamped with the monotonic
 * clock as it is written, and after each the writer awaits a timer of PAUSE_MS, as an
 * application that writes now and then does: its thread sleeps in the event loop between
 * writes, and whatever the write leaves to do (microtasks, wake-ups) runs before it sleeps.
 */
async function feed(follower: Follower): Promise<void> {
  for (let written = 0; written < TOTAL; written++) {
    follower.write(process.hrtime.bigint())
    await sleep(PAUSE_MS)
  }
}

interface Latency {
  name: string
  samples: number
  p50: number
  p99: number
  max: number
  /** The measured latencies (ns), sorted. */
  sorted: number[]
}

interface Row extends Omit<Latency, 'sorted'> {
  p50VsWatch: number
  p99VsWatch: number
  p50VsTail: number
  roundP50VsWatch: number
  roundP99VsWatch: number
  roundsP50AtOrUnder: number
  roundsP99AtOrUnder: number
}

function percentiles(name: string, sorted: number[]): Latency {
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { name, samples: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, sorted }
}

function summarize(name: string, all: number[]): Latency {
  return percentiles(name, all.slice(WARMUP).sort((a, b) => a - b))
}

/** One subject's samples of every round together. */
function pool(rounds: Latency[]): Latency {
  return percentiles(rounds[0]!.name, rounds.flatMap((round) => round.sorted).sort((a, b) => a - b))
}

/** `items` in an order fixed by `seed` (Fisher–Yates over a small LCG): reproducible rounds. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items]
  let state = seed >>> 0
  for (let index = out.length - 1; index > 0; index--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    const other = state % (index + 1)
    ;[out[index], out[other]] = [out[other]!, out[index]!]
  }
  return out
}

const stamp = Buffer.alloc(RECORD)

async function startAof(dir: string, name: string, mode: Mode, remote: 'worker' | 'child'): Promise<Follower> {
  const path = join(dir, `${mode}-${remote}.aof`)
  // The default geometry, as a user gets it.
  const file = AppendOnlyFile.open(path, { create: true })
  const reader = remote === 'worker' ? startWorker(mode, path) : startChild(mode, path)
  await reader.ready
  return {
    name,
    write: (time) => {
      stamp.writeBigUInt64LE(time)
      file.write(stamp)
    },
    result: reader.result as Promise<number[]>,
    close: () => file.close(),
  }
}

function startSameProcess(dir: string): Follower {
  const file = AppendOnlyFile.open(join(dir, 'subscribe.aof'), { create: true })
  const out: number[] = []
  const carry = { bytes: new Uint8Array(0) }
  let done: (latencies: number[]) => void = () => undefined
  const result = new Promise<number[]>((resolve) => (done = resolve))
  const tailer = file.subscribe({
    pollRead: (event) => {
      observe(event.tail, out, carry)
      if (out.length >= TOTAL) done(out)
      return event.end
    },
    pollReadClosed: () => undefined,
  })
  return {
    name: SAME_PROCESS,
    write: (time) => {
      stamp.writeBigUInt64LE(time)
      file.write(stamp)
    },
    result,
    close: async () => {
      tailer.close()
      await file.close()
    },
  }
}

async function startPlain(dir: string, name: string, mode: 'watch' | 'tail'): Promise<Follower> {
  const path = join(dir, `${mode}.log`)
  const fd = openSync(path, 'w')
  const reader = startChild(mode, path)
  await reader.ready
  // `tail` needs a moment to stat the file and install its watcher after construction.
  await new Promise((resolve) => setTimeout(resolve, 200))
  return {
    name,
    write: (time) => {
      if (mode === 'tail') writeSync(fd, `${time}\n`)
      else {
        stamp.writeBigUInt64LE(time)
        writeSync(fd, stamp)
      }
    },
    result: reader.result as Promise<number[]>,
    close: () => {
      closeSync(fd)
      return Promise.resolve()
    },
  }
}

/**
 * Runs `subjects` one at a time, in an order fixed by `seed`: each one's reader is started
 * (in its own process or thread), fed TOTAL records and closed before the next starts, so that
 * no other reader runs meanwhile.
 */
async function measure(dir: string, subjects: readonly Subject[], seed: number): Promise<Map<string, Latency>> {
  const results = new Map<string, Latency>()
  for (const subject of shuffled(subjects, seed)) {
    const follower = await subject.start(dir)
    await feed(follower)
    results.set(follower.name, summarize(follower.name, await follower.result))
    await follower.close()
  }
  return results
}

async function catchUp(dir: string): Promise<{ aof: number; read: number }> {
  const path = join(dir, 'catchup.aof')
  const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeUpper: CATCH_UP_BYTES + 64 * 1024 * 1024 } })
  const chunk = Buffer.alloc(CHUNK, 0x5a)
  for (let written = 0; written < CATCH_UP_BYTES; written += CHUNK) file.write(chunk)
  await file.finish()
  await file.close()
  // Page cache warm for both; best of three runs each, alternating.
  let aof = Infinity
  let read = Infinity
  for (let run = 0; run < 3; run++) {
    read = Math.min(read, (await startChild('catchup-read', path, CATCH_UP_BYTES).result) as number)
    aof = Math.min(aof, (await startChild('catchup-aof', path, CATCH_UP_BYTES).result) as number)
  }
  return { aof: CATCH_UP_BYTES / aof, read: CATCH_UP_BYTES / read }
}

function us(ns: number): string {
  return (ns / 1000).toFixed(1)
}

function ratio(value: number, base: number): string {
  return `${(value / base).toFixed(2)}×`
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-tail-bench-'))
  // --json: the same measurements, printed as one JSON object at the end instead of the tables.
  const json = process.argv.includes('--json')
  const print = console.log
  if (json) console.log = () => undefined
  try {
    console.log(
      `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${SAMPLES} samples after ${WARMUP} warm-up, ${RECORD}-byte records, the writer awaits a ${PAUSE_MS} ms timer after each`,
    )
    // One follower at a time (see measure), in a shuffled order each round; rounds repeat that
    // with fresh processes and files. The table pools every round's samples, and also shows
    // the median of the ratios taken within each round and the number of rounds at or under
    // fs.watch.
    const subjects: Subject[] = [
      { name: SAME_PROCESS, start: (at) => Promise.resolve(startSameProcess(at)) },
      { name: WORKER_TAIL, start: (at) => startAof(at, WORKER_TAIL, 'aof-tail', 'worker') },
      { name: CROSS_TAIL, start: (at) => startAof(at, CROSS_TAIL, 'aof-tail', 'child') },
      { name: CROSS_SUBSCRIBE, start: (at) => startAof(at, CROSS_SUBSCRIBE, 'aof-subscribe', 'child') },
      { name: DIAGNOSTIC, start: (at) => startAof(at, DIAGNOSTIC, 'sidecar-watch', 'child') },
      { name: DIAGNOSTIC_FS_WATCH, start: (at) => startAof(at, DIAGNOSTIC_FS_WATCH, 'sidecar-fs-watch', 'child') },
      { name: WATCH, start: (at) => startPlain(at, WATCH, 'watch') },
      { name: TAIL, start: (at) => startPlain(at, TAIL, 'tail') },
    ]
    // A busy-polling reader spins on a core while it follows: it runs last in each round.
    const busy: Subject = { name: CROSS_BUSY, start: (at) => startAof(at, CROSS_BUSY, 'aof-busy', 'child') }
    const rounds: Map<string, Latency>[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Fresh files each round: a follower reads from offset 0.
      const at = join(dir, `round-${round + 1}`)
      mkdirSync(at)
      const results = await measure(at, subjects, round + 1)
      for (const [name, latency] of await measure(at, [busy], round + 1)) results.set(name, latency)
      rounds.push(results)
      const cross = results.get(CROSS_TAIL)!
      const watchRound = results.get(WATCH)!
      console.log(
        `round ${round + 1}/${ROUNDS}: cross-process tail() p50 ${us(cross.p50)} µs (${ratio(cross.p50, watchRound.p50)} of fs.watch), p99 ${us(cross.p99)} µs (${ratio(cross.p99, watchRound.p99)})`,
      )
    }
    const median = (values: number[]): number => {
      const sorted = [...values].sort((a, b) => a - b)
      const middle = sorted.length >> 1
      return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
    }
    const pooledWatch = pool(rounds.map((round) => round.get(WATCH)!))
    const pooledTail = pool(rounds.map((round) => round.get(TAIL)!))
    const rows: Row[] = [...subjects, busy].map(({ name }) => {
      const all = rounds.map((round) => round.get(name)!)
      const pooled = pool(all)
      const within = (base: string, key: 'p50' | 'p99'): number[] => rounds.map((round) => round.get(name)![key] / round.get(base)![key])
      return {
        name,
        samples: pooled.samples,
        p50: pooled.p50,
        p99: pooled.p99,
        max: pooled.max,
        p50VsWatch: pooled.p50 / pooledWatch.p50,
        p99VsWatch: pooled.p99 / pooledWatch.p99,
        p50VsTail: pooled.p50 / pooledTail.p50,
        roundP50VsWatch: median(within(WATCH, 'p50')),
        roundP99VsWatch: median(within(WATCH, 'p99')),
        roundsP50AtOrUnder: within(WATCH, 'p50').filter((value) => value <= 1).length,
        roundsP99AtOrUnder: within(WATCH, 'p99').filter((value) => value <= 1).length,
      }
    })
    console.log(`\n${ROUNDS} rounds pooled (${SAMPLES} samples per subject per round); "rounds" columns: median of the ratios within each round, and in how many rounds the subject was at or under fs.watch`)
    console.log('| subject | p50 µs | p99 µs | max µs | p50 vs fs.watch | p99 vs fs.watch | p50 vs tail | rounds: p50 | rounds: p99 |')
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const row of rows) {
      console.log(
        `| ${row.name} | ${us(row.p50)} | ${us(row.p99)} | ${us(row.max)} | ${row.p50VsWatch.toFixed(2)}× | ${row.p99VsWatch.toFixed(2)}× | ${row.p50VsTail.toFixed(2)}× | ${row.roundP50VsWatch.toFixed(2)}× (${row.roundsP50AtOrUnder}/${ROUNDS}) | ${row.roundP99VsWatch.toFixed(2)}× (${row.roundsP99AtOrUnder}/${ROUNDS}) |`,
      )
    }
    const { aof, read } = await catchUp(dir)
    console.log(`\n| catch-up, ${CATCH_UP_BYTES / 2 ** 20} MiB finished file, other process | GB/s |`)
    console.log('|---|---:|')
    console.log(`| openReader + tail() | ${aof.toFixed(2)} |`)
    console.log(`| fs.readSync, 1 MiB chunks | ${read.toFixed(2)} |`)
    const byName = (name: string): Row => rows.find((row) => row.name === name)!
    const cross = byName(CROSS_TAIL)
    const subscribe = byName(CROSS_SUBSCRIBE)
    const targets: [string, boolean][] = [
      ['cross-process tail() p50 <= fs.watch p50', cross.p50VsWatch <= 1],
      ['cross-process tail() p99 <= fs.watch p99', cross.p99VsWatch <= 1],
      ['cross-process subscribe() p50 <= fs.watch p50', subscribe.p50VsWatch <= 1],
      ['cross-process subscribe() p99 <= fs.watch p99', subscribe.p99VsWatch <= 1],
      ['cross-process tail() p50 >= 3x lower than tail', cross.p50VsTail <= 1 / 3],
      ['same-process p50 < 5 µs', byName(SAME_PROCESS).p50 < 5000],
      ['catch-up >= 2 GB/s', aof >= 2],
    ]
    console.log('')
    for (const [target, met] of targets) console.log(`${met ? 'MET   ' : 'MISSED'} ${target}`)
    if (json) {
      const catchUpGBps = { aof, read }
      const perRound = rounds.map((round) => Object.fromEntries([...round].map(([name, { samples, p50, p99, max }]) => [name, { samples, p50, p99, max }])))
      print(JSON.stringify({ node: process.version, samples: SAMPLES, warmup: WARMUP, rounds: ROUNDS, rows, perRound, catchUpGBps, targets }, null, 2))
    }
  } finally {
    console.log = print
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
