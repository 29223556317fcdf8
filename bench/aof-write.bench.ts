/**
 * Appends of small records: AppendOnlyFile against what a Node.js user has today.
 *
 * Subjects, each appending the same record (16 B and 100 B) many times:
 * - `aof write`: {@link AppendOnlyFile.write} (copy into the mapping, MagicTail, publish size)
 *   with the default geometry (16 MiB files, 1 MiB steps), as a user gets it; a full file is
 *   replaced by a new one (open is inside the timing, close is not).
 * - `aof writeBatch`: {@link AppendOnlyFile.writeBatch} of 64 records per call (default geometry).
 * - `aof append`: {@link AppendOnlyFile.append}, reserve-then-fill: the function copies the
 *   record into `event.tail` and returns its length (default geometry, as above).
 * - `aof write, 2 GiB file, 64 MiB steps`: `write` with a geometry a fast writer may choose.
 * - `record log`: `LogWriter.append` into an `AppendOnlyFileSink` (default geometry), in the
 *   `durable` mode only.
 * - `fs.writeSync per record`: one `fs.writeSync` call per record (what people write today).
 * - `fs.writeSync, 64 KiB buffer`: records copied into a 64 KiB user-space buffer, written with
 *   `fs.writeSync` when full (the fastest thing available today; it loses up to 64 KiB on a crash
 *   and shows readers nothing until it flushes).
 * - `memory copy (ceiling)`: copying into a preallocated, already touched in-memory buffer.
 *
 * Every file subject writes a fresh file in a temporary directory under `os.tmpdir()`, deleted
 * after each repetition. Each subject is warmed up, then sized to take at least `--seconds`, then
 * run `--reps` times, the subjects of a size and mode interleaved (one repetition of each, then
 * the next, each repetition starting one subject further on); the median rate is reported.
 * Three loop modes:
 * - `burst`: one synchronous loop over all records (the event loop never turns);
 * - `yield`: the loop gives the event loop a turn (setImmediate) every `--yield-every` records,
 *   as a server handling requests would;
 * - `durable`: every `--yield-every` records are made durable: `await file.sync()` for
 *   aofkit, the buffer written and `fs.fsyncSync` for the buffered baseline (not run by default).
 *
 * Run: npm run bench -- [--json] [--sizes 16,100] [--modes burst,yield] [--reps 5]
 *      [--seconds 0.5] [--yield-every 1000]
 * @module
 */
import './built.ts'
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { AppendOnlyFile, AppendOnlyFileSink, LogWriter, MAGIC_SIZE, SIZE_UPPER_DEFAULT } from '../dist/index.js'
import type { AppendEvent, GeometryOptions } from '../dist/index.js'
import { counterDelta, machine, mainThreadCounters, median, nowNs, rate, table, turn } from './harness.ts'
import type { ThreadCounters } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '16,100' },
    modes: { type: 'string', default: 'burst,yield' },
    reps: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '0.5' },
    'yield-every': { type: 'string', default: '1000' },
  },
})

const SIZES = args.sizes.split(',').map(Number)
const MODES = args.modes.split(',') as Mode[]
const REPS = Number(args.reps)
const MIN_SECONDS = Number(args.seconds)
const YIELD_EVERY = Number(args['yield-every'])
const GIB = 1024 * 1024 * 1024
const MIB = 1024 * 1024
/** The geometry of the large-file subject (the others use the default geometry). */
const LARGE: GeometryOptions = { sizeUpper: 2 * GIB, growthStep: 64 * MIB }
const BUFFER_BYTES = 64 * 1024
/** Records per call of the `writeBatch` subject. */
const BATCH = 64
const CEILING_BYTES = 256 * MIB

type Mode = 'burst' | 'yield' | 'durable'

for (const mode of MODES) if (mode !== 'burst' && mode !== 'yield' && mode !== 'durable') throw new Error(`unknown mode ${String(mode)}`)
for (const size of SIZES) if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`bad size ${String(size)}`)

/** One prepared measurement: `batch(count)` appends `count` more records. */
interface Run {
  batch(count: number): void
  /** Work to finish inside the timing (e.g. the buffered writer's last flush). */
  finish?(): void
  /** Makes what was appended durable (the `durable` mode). */
  sync(): Promise<void> | void
  /** Teardown outside the timing. */
  dispose(): Promise<void> | void
}

interface Subject {
  key: string
  name: string
  /** Records that fit in one run (Infinity when unbounded). */
  capacity(size: number): number
  /** Records of the warm-up run (also used to size the timed runs). */
  warmup: number
  /** The modes it runs in (default: all). */
  modes?: readonly Mode[]
  prepare(dir: string, record: Uint8Array): Run
}

let fileCounter = 0
function freshPath(dir: string): string {
  fileCounter += 1
  return join(dir, `f${fileCounter}`)
}

/** Removes a data file and its sidecar. */
function removeFile(path: string): void {
  rmSync(path, { force: true })
  rmSync(`${path}-shm`, { force: true })
}

function openAof(dir: string, geometry: GeometryOptions): { file: AppendOnlyFile; path: string } {
  const path = freshPath(dir)
  return { file: AppendOnlyFile.open(path, { create: true, geometry }), path }
}

/**
 * Files with the default geometry hold 16 MiB; a full one is replaced by a fresh file, as a
 * user would (open inside the timing, close outside).
 */
function defaultGeometryRun(dir: string, record: Uint8Array, append: (file: AppendOnlyFile, count: number) => void): Run {
  const perFile = Math.floor((SIZE_UPPER_DEFAULT - MAGIC_SIZE) / record.length)
  const paths: string[] = []
  const closing: Promise<void>[] = []
  let current = openAof(dir, {})
  paths.push(current.path)
  let left = perFile
  return {
    batch(count) {
      while (count > 0) {
        if (left === 0) {
          closing.push(current.file.close())
          current = openAof(dir, {})
          paths.push(current.path)
          left = perFile
        }
        const now = Math.min(count, left)
        append(current.file, now)
        left -= now
        count -= now
      }
    },
    sync: () => current.file.sync(),
    async dispose() {
      closing.push(current.file.close())
      await Promise.all(closing)
      for (const path of paths) removeFile(path)
    },
  }
}

const subjects: Subject[] = [
  {
    key: 'aofWrite',
    name: 'aof write',
    capacity: () => Infinity,
    warmup: 300_000,
    prepare(dir, record) {
      return defaultGeometryRun(dir, record, (file, count) => {
        for (let i = 0; i < count; i++) file.write(record)
      })
    },
  },
  {
    key: 'aofWriteBatch',
    name: `aof writeBatch (${BATCH} records per call)`,
    capacity: () => Infinity,
    warmup: 300_000,
    modes: ['burst', 'yield'],
    prepare(dir, record) {
      const batch = Array.from({ length: BATCH }, () => record)
      return defaultGeometryRun(dir, record, (file, count) => {
        let left = count
        for (; left >= BATCH; left -= BATCH) file.writeBatch(batch)
        for (; left > 0; left--) file.write(record)
      })
    },
  },
  {
    key: 'aofAppend',
    name: 'aof append (reserve, fill)',
    capacity: () => Infinity,
    warmup: 300_000,
    modes: ['burst', 'yield'],
    prepare(dir, record) {
      const length = record.length
      const fill = (event: AppendEvent): number => {
        event.tail.set(record)
        return length
      }
      return defaultGeometryRun(dir, record, (file, count) => {
        for (let i = 0; i < count; i++) file.append(length, fill)
      })
    },
  },
  {
    key: 'aofWriteLarge',
    name: 'aof write, 2 GiB file, 64 MiB steps',
    capacity: (size) => Math.floor((0.95 * (LARGE.sizeUpper as number)) / size),
    warmup: 300_000,
    prepare(dir, record) {
      const { file, path } = openAof(dir, LARGE)
      return {
        batch(count) {
          for (let i = 0; i < count; i++) file.write(record)
        },
        sync: () => file.sync(),
        async dispose() {
          await file.close()
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'logWriter',
    name: 'record log: LogWriter → AppendOnlyFileSink',
    capacity: (size) => Math.floor((0.9 * (LARGE.sizeUpper as number)) / (size + 7)),
    warmup: 300_000,
    modes: ['durable'],
    prepare(dir, record) {
      const { file, path } = openAof(dir, LARGE)
      const log = new LogWriter(new AppendOnlyFileSink(file))
      return {
        batch(count) {
          for (let i = 0; i < count; i++) log.append(record)
        },
        sync: () => file.sync(),
        async dispose() {
          await file.close()
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'writeSync',
    name: 'fs.writeSync per record',
    capacity: () => Infinity,
    warmup: 30_000,
    modes: ['burst', 'yield'],
    prepare(dir, record) {
      const path = freshPath(dir)
      const fd = openSync(path, 'w')
      return {
        batch(count) {
          for (let i = 0; i < count; i++) writeSync(fd, record)
        },
        sync: () => fsyncSync(fd),
        dispose() {
          closeSync(fd)
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'writeSyncBuffered',
    name: 'fs.writeSync, 64 KiB buffer',
    capacity: () => Infinity,
    warmup: 300_000,
    prepare(dir, record) {
      const path = freshPath(dir)
      const fd = openSync(path, 'w')
      const buffer = new Uint8Array(BUFFER_BYTES)
      const length = record.length
      let used = 0
      return {
        batch(count) {
          for (let i = 0; i < count; i++) {
            if (used + length > BUFFER_BYTES) {
              writeSync(fd, buffer, 0, used)
              used = 0
            }
            buffer.set(record, used)
            used += length
          }
        },
        finish() {
          if (used > 0) writeSync(fd, buffer, 0, used)
          used = 0
        },
        sync() {
          if (used > 0) writeSync(fd, buffer, 0, used)
          used = 0
          fsyncSync(fd)
        },
        dispose() {
          closeSync(fd)
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'memoryCopy',
    name: 'memory copy (ceiling)',
    capacity: () => Infinity,
    warmup: 300_000,
    modes: ['burst', 'yield'],
    prepare(_dir, record) {
      const memory = ceilingBuffer()
      const length = record.length
      let offset = 0
      return {
        batch(count) {
          for (let i = 0; i < count; i++) {
            if (offset + length > CEILING_BYTES) offset = 0
            memory.set(record, offset)
            offset += length
          }
        },
        sync() {},
        async dispose() {},
      }
    },
  },
]

let ceiling: Uint8Array | null = null
/** A 256 MiB buffer, touched once so that the ceiling pays no page faults. */
function ceilingBuffer(): Uint8Array {
  if (ceiling === null) {
    ceiling = new Uint8Array(CEILING_BYTES)
    ceiling.fill(1)
    ceiling.fill(0)
  }
  return ceiling
}

interface Sample {
  seconds: number
  recordsPerSecond: number
  counters: ThreadCounters
}

async function once(subject: Subject, dir: string, record: Uint8Array, count: number, mode: Mode): Promise<Sample> {
  const run = subject.prepare(dir, record)
  await turn()
  const before = mainThreadCounters()
  const start = nowNs()
  if (mode === 'burst') {
    run.batch(count)
  } else {
    for (let done = 0; done < count; done += YIELD_EVERY) {
      run.batch(Math.min(YIELD_EVERY, count - done))
      if (mode === 'durable') await run.sync()
      else await turn()
    }
  }
  run.finish?.()
  const seconds = (nowNs() - start) / 1e9
  const counters = counterDelta(before, mainThreadCounters())
  await run.dispose()
  return { seconds, recordsPerSecond: count / seconds, counters }
}

interface Result {
  size: number
  mode: Mode
  subject: string
  name: string
  records: number
  reps: number
  medianSeconds: number
  recordsPerSecond: number
  nsPerRecord: number
  megabytesPerSecond: number
  /** Median main-thread minor page faults per run, and per MiB appended. */
  mainThreadFaults: number
  mainThreadFaultsPerMiB: number
  /** Median main-thread system CPU milliseconds per run. */
  mainThreadSystemMs: number
  allRates: number[]
  /** True when the capacity of the geometry kept the run shorter than --seconds. */
  short: boolean
}

/** Warm-up and sizing: grows the count until one run takes --seconds (or the file is full). */
async function size(subject: Subject, dir: string, record: Uint8Array, mode: Mode): Promise<number> {
  const capacity = subject.capacity(record.length)
  let records = Math.min(subject.warmup, capacity)
  for (let attempt = 0; attempt < 6; attempt++) {
    const probe = await once(subject, dir, record, records, mode)
    if (probe.seconds >= MIN_SECONDS || records >= capacity) break
    records = Math.min(capacity, Math.ceil((records * MIN_SECONDS * 1.3) / Math.max(probe.seconds, 1e-3)))
  }
  return records
}

/**
 * Every subject of a size and mode, interleaved: one repetition of each, then the next, so
 * that a drift of the machine during the run affects them alike; each repetition starts one
 * subject further on, so that none always runs right after the same one (on this host the
 * first touch of memory that other subjects just freed is slow, and it would fall on one
 * subject every time).
 */
async function measureAll(chosen: readonly Subject[], dir: string, recordSize: number, mode: Mode): Promise<Result[]> {
  const record = new Uint8Array(randomBytes(recordSize))
  const counts = new Map<Subject, number>()
  for (const subject of chosen) counts.set(subject, await size(subject, dir, record, mode))
  const samples = new Map<Subject, Sample[]>(chosen.map((subject) => [subject, []]))
  for (let rep = 0; rep < REPS; rep++) {
    for (let k = 0; k < chosen.length; k++) {
      const subject = chosen[(rep + k) % chosen.length]!
      samples.get(subject)!.push(await once(subject, dir, record, counts.get(subject)!, mode))
    }
  }
  return chosen.map((subject) => {
    const taken = samples.get(subject)!
    const records = counts.get(subject)!
    const rates = taken.map((sample) => sample.recordsPerSecond)
    const recordsPerSecond = median(rates)
    const faults = median(taken.map((sample) => sample.counters.minorFaults))
    return {
      size: recordSize,
      mode,
      subject: subject.key,
      name: subject.name,
      records,
      reps: REPS,
      medianSeconds: median(taken.map((sample) => sample.seconds)),
      recordsPerSecond,
      nsPerRecord: 1e9 / recordsPerSecond,
      megabytesPerSecond: (recordsPerSecond * recordSize) / 1e6,
      mainThreadFaults: faults,
      mainThreadFaultsPerMiB: faults / ((records * recordSize) / MIB),
      mainThreadSystemMs: median(taken.map((sample) => sample.counters.systemMs)),
      allRates: rates,
      short: median(taken.map((sample) => sample.seconds)) < MIN_SECONDS,
    }
  })
}

const dir = mkdtempSync(join(tmpdir(), 'aofkit-bench-'))
const results: Result[] = []
try {
  for (const mode of MODES) {
    for (const recordSize of SIZES) {
      const chosen = subjects.filter((subject) => subject.modes === undefined || subject.modes.includes(mode))
      for (const result of await measureAll(chosen, dir, recordSize, mode)) {
        results.push(result)
        if (!args.json) process.stderr.write(`  ${mode} ${recordSize} B ${result.name}: ${rate(result.recordsPerSecond)}\n`)
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function find(size: number, mode: Mode, key: string): Result {
  const found = results.find((r) => r.size === size && r.mode === mode && r.subject === key)
  if (found === undefined) throw new Error(`missing result ${key}`)
  return found
}

function maybe(size: number, mode: Mode, key: string): Result | undefined {
  return results.find((r) => r.size === size && r.mode === mode && r.subject === key)
}

interface Target {
  size: number
  mode: Mode
  /** `write` (default geometry) ÷ one `fs.writeSync` per record; null in the durable mode. */
  writeVsWriteSync: number | null
  /** `write` (default geometry) ÷ `fs.writeSync` through a 64 KiB buffer (+ fsyncSync when durable). */
  writeVsBuffered: number
  /** The record log ÷ the buffered baseline (durable mode only). */
  logVsBuffered: number | null
  met: boolean
}
const targets: Target[] = []
for (const mode of MODES) {
  for (const size of SIZES) {
    const write = find(size, mode, 'aofWrite').recordsPerSecond
    const buffered = find(size, mode, 'writeSyncBuffered').recordsPerSecond
    const perRecord = maybe(size, mode, 'writeSync')
    const log = maybe(size, mode, 'logWriter')
    const writeVsWriteSync = perRecord === undefined ? null : write / perRecord.recordsPerSecond
    const writeVsBuffered = write / buffered
    const logVsBuffered = log === undefined ? null : log.recordsPerSecond / buffered
    const met = (writeVsWriteSync === null || writeVsWriteSync >= 10) && writeVsBuffered >= 1 && (logVsBuffered === null || logVsBuffered >= 1)
    targets.push({ size, mode, writeVsWriteSync, writeVsBuffered, logVsBuffered, met })
  }
}

const header = {
  machine: machine(),
  tmpdir: tmpdir(),
  defaultGeometry: { sizeUpper: SIZE_UPPER_DEFAULT, growthStep: 'default (1 MiB)' },
  largeGeometry: LARGE,
  reps: REPS,
  minSeconds: MIN_SECONDS,
  yieldEvery: YIELD_EVERY,
}

const MODE_TEXT: Record<Mode, string> = {
  burst: 'burst (one synchronous loop)',
  yield: `yield (event loop turn every ${YIELD_EVERY} records)`,
  durable: `durable (sync() / fsyncSync every ${YIELD_EVERY} records)`,
}

if (args.json) {
  console.log(JSON.stringify({ ...header, results, targets }, null, 2))
} else {
  console.log(`${header.machine}`)
  console.log(`temp dir ${header.tmpdir}; aof subjects: the default geometry (16 MiB files, 1 MiB steps), a fresh file per run, unless named`)
  console.log(`median of ${REPS} interleaved runs, each >= ${MIN_SECONDS} s after a warm-up; faults and sys = main thread only`)
  for (const mode of MODES) {
    for (const size of SIZES) {
      const buffered = find(size, mode, 'writeSyncBuffered').recordsPerSecond
      const perRecord = maybe(size, mode, 'writeSync')?.recordsPerSecond
      const memory = maybe(size, mode, 'memoryCopy')?.recordsPerSecond
      console.log(`\n${size} B records, ${MODE_TEXT[mode]}`)
      const rows = [['subject', 'records/s', 'ns/rec', 'MB/s', '× buffered', '× writeSync', '× memcopy', 'faults/MiB', 'sys ms']]
      for (const r of results.filter((row) => row.size === size && row.mode === mode)) {
        rows.push([
          r.name + (r.short ? ' (short run)' : ''),
          rate(r.recordsPerSecond),
          r.nsPerRecord.toFixed(1),
          r.megabytesPerSecond.toFixed(0),
          (r.recordsPerSecond / buffered).toFixed(2),
          perRecord === undefined ? '' : (r.recordsPerSecond / perRecord).toFixed(2),
          memory === undefined ? '' : (r.recordsPerSecond / memory).toFixed(2),
          r.mainThreadFaultsPerMiB.toFixed(1),
          r.mainThreadSystemMs.toFixed(0),
        ])
      }
      console.log(table(rows, [false, true, true, true, true, true, true, true, true]))
    }
  }
  console.log('\ntargets (default geometry): aof write >= buffered fs.writeSync (+ fsyncSync when durable, the record log too) and >= 10 × fs.writeSync per record')
  for (const t of targets) {
    const parts = [`${t.writeVsBuffered.toFixed(2)}× buffered`]
    if (t.writeVsWriteSync !== null) parts.push(`${t.writeVsWriteSync.toFixed(1)}× per-record`)
    if (t.logVsBuffered !== null) parts.push(`record log ${t.logVsBuffered.toFixed(2)}× buffered`)
    console.log(`  ${t.mode.padEnd(7)} ${String(t.size).padStart(3)} B: write ${parts.join(', ')}: ${t.met ? 'met' : 'MISSED'}`)
  }
}
