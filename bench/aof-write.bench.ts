/**
 * Appends of small records: AppendOnlyFile against what a Node.js user has today.
 *
 * Subjects, each appending the same record (16 B and 100 B) many times:
 * - `aof write`: {@link AppendOnlyFile.write} (copy into the mapping, MagicTail, publish size).
 * - `aof append`: {@link AppendOnlyFile.append}, reserve-then-fill: the function copies the
 *   record into `event.tail` and returns its length.
 * - `aof write, default geometry`: `write` with the default geometry (16 MiB files, 1 MiB
 *   steps); a full file is replaced by a new one (open is inside the timing, close is not).
 * - `fs.writeSync per record`: one `fs.writeSync` call per record (what people write today).
 * - `fs.writeSync, 64 KiB buffer`: records copied into a 64 KiB user-space buffer, written with
 *   `fs.writeSync` when full (the fastest thing available today; it loses up to 64 KiB on a crash
 *   and shows readers nothing until it flushes).
 * - `memory copy (ceiling)`: copying into a preallocated, already touched in-memory buffer.
 *
 * Every file subject writes a fresh file in a temporary directory under `os.tmpdir()`, deleted
 * after each repetition. Each subject is warmed up, then sized to take at least `--seconds`, then
 * run `--reps` times; the median rate is reported. Two loop modes:
 * - `burst`: one synchronous loop over all records (the event loop never turns);
 * - `yield`: the loop gives the event loop a turn (setImmediate) every `--yield-every` records,
 *   as a server handling requests would.
 *
 * Run: npm run bench -- [--json] [--sizes 16,100] [--modes burst,yield] [--reps 5]
 *      [--seconds 0.5] [--yield-every 1000]
 * @module
 */
import './built.ts'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { AppendOnlyFile, MAGIC_SIZE, SIZE_UPPER_DEFAULT } from '../dist/index.js'
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
/** The geometry of the main AppendOnlyFile subjects: large enough for every run. */
const GEOMETRY: GeometryOptions = { sizeUpper: 2 * GIB, growthStep: 64 * MIB }
const BUFFER_BYTES = 64 * 1024
const CEILING_BYTES = 256 * MIB

type Mode = 'burst' | 'yield'

for (const mode of MODES) if (mode !== 'burst' && mode !== 'yield') throw new Error(`unknown mode ${String(mode)}`)
for (const size of SIZES) if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`bad size ${String(size)}`)

/** One prepared measurement: `batch(count)` appends `count` more records. */
interface Run {
  batch(count: number): void
  /** Work to finish inside the timing (e.g. the buffered writer's last flush). */
  finish?(): void
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

const subjects: Subject[] = [
  {
    key: 'aofWrite',
    name: 'aof write',
    capacity: (size) => Math.floor((0.95 * (GEOMETRY.sizeUpper as number)) / size),
    warmup: 300_000,
    prepare(dir, record) {
      const { file, path } = openAof(dir, GEOMETRY)
      return {
        batch(count) {
          for (let i = 0; i < count; i++) file.write(record)
        },
        async dispose() {
          await file.close()
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'aofAppend',
    name: 'aof append (reserve, fill)',
    capacity: (size) => Math.floor((0.95 * (GEOMETRY.sizeUpper as number)) / size),
    warmup: 300_000,
    prepare(dir, record) {
      const { file, path } = openAof(dir, GEOMETRY)
      const length = record.length
      const fill = (event: AppendEvent): number => {
        event.tail.set(record)
        return length
      }
      return {
        batch(count) {
          for (let i = 0; i < count; i++) file.append(length, fill)
        },
        async dispose() {
          await file.close()
          removeFile(path)
        },
      }
    },
  },
  {
    key: 'aofWriteDefaultGeometry',
    name: 'aof write, default geometry',
    capacity: () => Infinity,
    warmup: 300_000,
    prepare(dir, record) {
      // A default file holds 16 MiB; a full one is replaced by a fresh file, as a user would.
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
            const file = current.file
            for (let i = 0; i < now; i++) file.write(record)
            left -= now
            count -= now
          }
        },
        async dispose() {
          closing.push(current.file.close())
          await Promise.all(closing)
          for (const path of paths) removeFile(path)
        },
      }
    },
  },
  {
    key: 'writeSync',
    name: 'fs.writeSync per record',
    capacity: () => Infinity,
    warmup: 30_000,
    prepare(dir, record) {
      const path = freshPath(dir)
      const fd = openSync(path, 'w')
      return {
        batch(count) {
          for (let i = 0; i < count; i++) writeSync(fd, record)
        },
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
      await turn()
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

async function measure(subject: Subject, dir: string, size: number, mode: Mode): Promise<Result> {
  const record = new Uint8Array(randomBytes(size))
  const capacity = subject.capacity(size)
  // Warm-up and sizing: grow the count until one run takes --seconds (or the file is full).
  let records = Math.min(subject.warmup, capacity)
  for (let attempt = 0; attempt < 6; attempt++) {
    const probe = await once(subject, dir, record, records, mode)
    if (probe.seconds >= MIN_SECONDS || records >= capacity) break
    records = Math.min(capacity, Math.ceil((records * MIN_SECONDS * 1.3) / Math.max(probe.seconds, 1e-3)))
  }
  const samples: Sample[] = []
  for (let rep = 0; rep < REPS; rep++) samples.push(await once(subject, dir, record, records, mode))
  const rates = samples.map((sample) => sample.recordsPerSecond)
  const recordsPerSecond = median(rates)
  const faults = median(samples.map((sample) => sample.counters.minorFaults))
  return {
    size,
    mode,
    subject: subject.key,
    name: subject.name,
    records,
    reps: REPS,
    medianSeconds: median(samples.map((sample) => sample.seconds)),
    recordsPerSecond,
    nsPerRecord: 1e9 / recordsPerSecond,
    megabytesPerSecond: (recordsPerSecond * size) / 1e6,
    mainThreadFaults: faults,
    mainThreadFaultsPerMiB: faults / ((records * size) / MIB),
    mainThreadSystemMs: median(samples.map((sample) => sample.counters.systemMs)),
    allRates: rates,
    short: median(samples.map((sample) => sample.seconds)) < MIN_SECONDS,
  }
}

const dir = mkdtempSync(join(tmpdir(), 'aofkit-bench-'))
const results: Result[] = []
try {
  for (const mode of MODES) {
    for (const size of SIZES) {
      for (const subject of subjects) {
        const result = await measure(subject, dir, size, mode)
        results.push(result)
        if (!args.json) {
          process.stderr.write(`  ${mode} ${size} B ${subject.name}: ${rate(result.recordsPerSecond)}\n`)
        }
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

interface Target {
  size: number
  mode: Mode
  writeVsWriteSync: number
  writeVsBuffered: number
  met: boolean
}
const targets: Target[] = []
for (const mode of MODES) {
  for (const size of SIZES) {
    const write = find(size, mode, 'aofWrite').recordsPerSecond
    const writeVsWriteSync = write / find(size, mode, 'writeSync').recordsPerSecond
    const writeVsBuffered = write / find(size, mode, 'writeSyncBuffered').recordsPerSecond
    targets.push({ size, mode, writeVsWriteSync, writeVsBuffered, met: writeVsWriteSync >= 10 && writeVsBuffered >= 1 })
  }
}

const header = {
  machine: machine(),
  tmpdir: tmpdir(),
  geometry: GEOMETRY,
  defaultGeometry: { sizeUpper: SIZE_UPPER_DEFAULT, growthStep: 'default (1 MiB)' },
  reps: REPS,
  minSeconds: MIN_SECONDS,
  yieldEvery: YIELD_EVERY,
}

if (args.json) {
  console.log(JSON.stringify({ ...header, results, targets }, null, 2))
} else {
  console.log(`${header.machine}`)
  console.log(`temp dir ${header.tmpdir}; geometry sizeUpper 2 GiB, growthStep 64 MiB (default geometry: 16 MiB, 1 MiB steps)`)
  console.log(`median of ${REPS} runs, each >= ${MIN_SECONDS} s after a warm-up; faults and sys = main thread only`)
  for (const mode of MODES) {
    for (const size of SIZES) {
      const perRecord = find(size, mode, 'writeSync').recordsPerSecond
      const buffered = find(size, mode, 'writeSyncBuffered').recordsPerSecond
      const memory = find(size, mode, 'memoryCopy').recordsPerSecond
      const modeText = mode === 'burst' ? 'burst (one synchronous loop)' : `yield (event loop turn every ${YIELD_EVERY} records)`
      console.log(`\n${size} B records, ${modeText}`)
      const rows = [['subject', 'records/s', 'ns/rec', 'MB/s', '× writeSync', '× buffered', '× memcopy', 'faults/MiB', 'sys ms']]
      for (const r of results.filter((row) => row.size === size && row.mode === mode)) {
        rows.push([
          r.name + (r.short ? ' (short run)' : ''),
          rate(r.recordsPerSecond),
          r.nsPerRecord.toFixed(1),
          r.megabytesPerSecond.toFixed(0),
          (r.recordsPerSecond / perRecord).toFixed(2),
          (r.recordsPerSecond / buffered).toFixed(2),
          (r.recordsPerSecond / memory).toFixed(2),
          r.mainThreadFaultsPerMiB.toFixed(1),
          r.mainThreadSystemMs.toFixed(0),
        ])
      }
      console.log(table(rows, [false, true, true, true, true, true, true, true, true]))
    }
  }
  console.log('\ntargets: aof write >= 10 × fs.writeSync per record and >= buffered fs.writeSync')
  for (const t of targets) {
    console.log(
      `  ${t.mode.padEnd(5)} ${String(t.size).padStart(3)} B: ${t.writeVsWriteSync.toFixed(1)}× per-record, ${t.writeVsBuffered.toFixed(2)}× buffered: ${t.met ? 'met' : 'MISSED'}`,
    )
  }
}
