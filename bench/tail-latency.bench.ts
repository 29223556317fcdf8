/**
 * Live readers: write-to-observe latency (p50 / p99 / max) of aofkit's followers against
 * fs.watch + readSync and the npm `tail` package, plus catch-up throughput of a reader of a
 * 1 GiB finished file. One run, one machine; all latencies use process.hrtime.bigint(), the
 * monotonic clock shared by every thread and process.
 *
 *   node --import tsx bench/tail-latency.bench.ts [--json]
 *
 * The same script is the child process (argv[2] === 'child') and the worker thread
 * (workerData.mode) of each subject.
 * @module
 */
import './built.ts'
import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, watch, writeSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

import { AppendOnlyFile, sidecarPath } from '../dist/index.js'
import { ShmOffset } from '../dist/aof/shm.js'
import { loadCommittedSize } from '../dist/aof/committed-size.js'
import * as native from '../dist/native/binding.js'

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

const SELF = fileURLToPath(import.meta.url)
const WORKER_ENTRY = fileURLToPath(new URL('../test/helpers/worker-entry.mjs', import.meta.url))

type Mode = 'aof' | 'aof-busy' | 'aof-subscribe' | 'sidecar-watch' | 'sidecar-fs-watch' | 'watch' | 'tail' | 'catchup-aof' | 'catchup-read'

// ---------------------------------------------------------------- reader side

/** Latencies (ns) of the records in `chunk`, observed now. */
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

async function readAof(path: string, busyPoll: boolean, ready: () => void): Promise<number[]> {
  const reader = AppendOnlyFile.openReader(path, { busyPoll })
  const out: number[] = []
  const carry = { bytes: new Uint8Array(0) }
  ready()
  for await (const chunk of reader.tail()) {
    observe(chunk, out, carry)
    if (out.length >= TOTAL) break
  }
  reader.close()
  return out
}

/** The callback form: the reader's consumer is polled straight from the wake-up, no promise. */
function subscribeAof(path: string, ready: () => void): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const reader = AppendOnlyFile.openReader(path)
    const out: number[] = []
    const carry = { bytes: new Uint8Array(0) }
    const tailer = reader.subscribe({
      pollRead(event) {
        observe(event.tail, out, carry)
        if (out.length >= TOTAL) {
          queueMicrotask(() => {
            tailer.close()
            reader.close()
            resolve(out)
          })
        }
        return event.end
      },
      pollReadClosed(reason) {
        if (out.length < TOTAL) reject(new Error(`reader closed early: ${String(reason)}`))
      },
    })
    ready()
  })
}

/**
 * A diagnostic, not a product path: the wake-up mechanism aofkit's readers use (an inotify
 * watch on the `-shm` sidecar, which the writer pokes; or fs.watch on it, the fallback) with
 * nothing else around it, reading the data with readSync as the fs.watch baseline does. The gap
 * between this row and the openReader rows is the cost of aofkit's reader code; the gap
 * between it and the baseline, that of the mechanism.
 */
function readSidecarWatch(path: string, viaFsWatch: boolean, ready: () => void): Promise<number[]> {
  return new Promise((resolve) => {
    const fd = openSync(path, 'r')
    // Count ourselves a waiter in the sidecar, as FileReader does, so that the writer pokes;
    // read the committed size from it, as FileReader does, and exactly those bytes.
    const shmFd = openSync(sidecarPath(path), 'r+')
    const mapping = native.map(shmFd, 4096, true)
    const words = new Int32Array(mapping)
    // fs.watch sees writes only: ask the writer to poke with one, as FileReader does.
    if (viaFsWatch) Atomics.add(words, ShmOffset.writeWatchers / 4, 1)
    Atomics.add(words, ShmOffset.waiters / 4, 1)
    const out: number[] = []
    const carry = { bytes: new Uint8Array(0) }
    let position = 0
    const onWake = (): void => {
      const end = loadCommittedSize(words)
      if (end <= position) return
      const buffer = Buffer.allocUnsafe(end - position)
      readSync(fd, buffer, 0, buffer.length, position)
      position = end
      observe(buffer, out, carry)
      if (out.length >= TOTAL) {
        watcher.close()
        Atomics.sub(words, ShmOffset.waiters / 4, 1)
        if (viaFsWatch) Atomics.sub(words, ShmOffset.writeWatchers / 4, 1)
        resolve(out)
      }
    }
    const watcher = viaFsWatch ? watch(sidecarPath(path), onWake) : native.watchFile(sidecarPath(path), onWake)!
    ready()
  })
}

function readWatch(path: string, ready: () => void): Promise<number[]> {
  return new Promise((resolve) => {
    const fd = openSync(path, 'r')
    const buffer = Buffer.allocUnsafe(64 * 1024)
    const out: number[] = []
    const carry = { bytes: new Uint8Array(0) }
    let position = 0
    const watcher = watch(path, () => {
      for (;;) {
        const count = readSync(fd, buffer, 0, buffer.length, position)
        if (count === 0) break
        position += count
        observe(buffer.subarray(0, count), out, carry)
      }
      if (out.length >= TOTAL) {
        watcher.close()
        closeSync(fd)
        resolve(out)
      }
    })
    ready()
  })
}

async function readTail(path: string, ready: () => void): Promise<number[]> {
  // The npm `tail` package (bench/package.json: npm install --prefix bench): text lines,
  // fs.watch underneath.
  const specifier = 'tail' // no type declarations: keep tsc from resolving it
  const { Tail } = (await import(specifier).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error('the npm tail package, a baseline, is not installed: run npm install --prefix bench', { cause: error })
    }
    throw error
  })) as {
    Tail: new (path: string, options: object) => {
      on(event: 'line', listener: (line: string) => void): void
      on(event: 'error', listener: (error: unknown) => void): void
      unwatch(): void
    }
  }
  return new Promise((resolve, reject) => {
    const out: number[] = []
    const tail = new Tail(path, { fromBeginning: true })
    tail.on('line', (line) => {
      out.push(Number(process.hrtime.bigint() - BigInt(line)))
      if (out.length === TOTAL) {
        tail.unwatch()
        resolve(out)
      }
    })
    tail.on('error', reject)
    ready()
  })
}

async function catchUpAof(path: string): Promise<number> {
  const start = process.hrtime.bigint()
  const reader = AppendOnlyFile.openReader(path)
  let bytes = 0
  for await (const chunk of reader.tail()) bytes += chunk.length
  reader.close()
  const ns = Number(process.hrtime.bigint() - start)
  if (bytes !== CATCH_UP_BYTES) throw new Error(`read ${bytes} bytes, expected ${CATCH_UP_BYTES}`)
  return ns
}

function catchUpRead(path: string): number {
  const start = process.hrtime.bigint()
  const fd = openSync(path, 'r')
  const buffer = Buffer.allocUnsafe(CHUNK)
  let bytes = 0
  for (;;) {
    const count = readSync(fd, buffer, 0, CHUNK, bytes)
    if (count === 0) break
    bytes += count
  }
  closeSync(fd)
  const ns = Number(process.hrtime.bigint() - start)
  if (bytes < CATCH_UP_BYTES) throw new Error(`read ${bytes} bytes, expected ${CATCH_UP_BYTES}`)
  return ns
}

async function runReader(mode: Mode, path: string, ready: () => void): Promise<unknown> {
  switch (mode) {
    case 'aof':
      return readAof(path, false, ready)
    case 'aof-busy':
      return readAof(path, true, ready)
    case 'aof-subscribe':
      return subscribeAof(path, ready)
    case 'sidecar-watch':
      return readSidecarWatch(path, false, ready)
    case 'sidecar-fs-watch':
      return readSidecarWatch(path, true, ready)
    case 'watch':
      return readWatch(path, ready)
    case 'tail':
      return readTail(path, ready)
    case 'catchup-aof':
      ready()
      return catchUpAof(path)
    case 'catchup-read':
      ready()
      return catchUpRead(path)
  }
}

// ---------------------------------------------------------------- writer side

interface Remote {
  ready: Promise<void>
  result: Promise<unknown>
}

function startChild(mode: Mode, path: string): Remote {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'child', mode, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // For bench/wakeup-trace.ts, which tells the scheduler's events of each reader apart.
  if (process.env['BENCH_PIDS'] === '1') process.stderr.write(`bench-pid ${String(child.pid)} ${mode}\n`)
  let text = ''
  let onReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const result = new Promise<unknown>((resolve, reject) => {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (data: string) => {
      text += data
      if (text.startsWith('ready\n')) onReady()
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${mode} child exited with ${String(code)}`))
      else resolve(JSON.parse(text.slice('ready\n'.length)) as unknown)
    })
  })
  return { ready, result }
}

function startWorker(mode: Mode, path: string): Remote {
  const worker = new Worker(WORKER_ENTRY, { workerData: { script: SELF, mode, path } })
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
    read = Math.min(read, (await startChild('catchup-read', path).result) as number)
    aof = Math.min(aof, (await startChild('catchup-aof', path).result) as number)
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
      { name: WORKER_TAIL, start: (at) => startAof(at, WORKER_TAIL, 'aof', 'worker') },
      { name: CROSS_TAIL, start: (at) => startAof(at, CROSS_TAIL, 'aof', 'child') },
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

if (!isMainThread && parentPort !== null) {
  const { mode, path } = workerData as { mode: Mode; path: string }
  const port = parentPort
  const result = await runReader(mode, path, () => port.postMessage({ ready: true }))
  port.postMessage({ result })
} else if (process.argv[2] === 'child') {
  const mode = process.argv[3] as Mode
  const path = process.argv[4]!
  const result = await runReader(mode, path, () => process.stdout.write('ready\n'))
  process.stdout.write(JSON.stringify(result))
  process.exitCode = 0
} else {
  await main()
}
