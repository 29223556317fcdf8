/**
 * Record log throughput: appending entries of 100 B and 4 KiB into a plain file and into
 * memory (and into an AppendOnlyFile), and reading them all back with every checksum verified,
 * against two baselines in the same run:
 * - `fs.writeSync` once per entry (what people write today; no framing, no checksum);
 * - a hand-rolled framed log: u32 length + u32 crc32 (`node:zlib` `crc32`) per entry, through
 *   a 64 KiB user buffer, read back in 1 MiB chunks with every crc verified.
 * Ratios are aofkit's rate over the baseline's (above 1: aofkit is faster).
 *
 * Run: node --import tsx bench/log.bench.ts [--json]
 * Files go to os.tmpdir() (set TMPDIR to measure another file system).
 * @module
 */
import './built.ts'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { release, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { Manager } from '../dist/aof/manager.js'
import { LogReader } from '../dist/log/log-reader.js'
import { LogWriter } from '../dist/log/log-writer.js'
import { AppendOnlyFileSink, FileSink, MemorySink } from '../dist/log/sinks.js'
import { AppendOnlyFileSource, FileSource, MemorySource } from '../dist/log/sources.js'

// ---- crc32: node:zlib's (Node 20.15+), else a table-driven one. ----

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})
function tableCrc32(data: Uint8Array): number {
  let crc = -1
  for (let i = 0; i < data.length; i++) crc = (CRC_TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ -1) >>> 0
}
const crc32: (data: Uint8Array) => number = zlibCrc32 ?? tableCrc32

// ---- The framed-log baseline. ----

function framedWrite(fd: number, entries: Uint8Array[]): void {
  const buffer = new Uint8Array(65536)
  const view = new DataView(buffer.buffer)
  let used = 0
  let position = 0
  for (const entry of entries) {
    if (used + 8 + entry.length > buffer.length) {
      position += writeSync(fd, buffer, 0, used, position)
      used = 0
    }
    view.setUint32(used, entry.length, true)
    view.setUint32(used + 4, crc32(entry), true)
    buffer.set(entry, used + 8)
    used += 8 + entry.length
  }
  writeSync(fd, buffer, 0, used, position)
}

function framedWriteMemory(entries: Uint8Array[], target: Uint8Array): number {
  const view = new DataView(target.buffer)
  let used = 0
  for (const entry of entries) {
    view.setUint32(used, entry.length, true)
    view.setUint32(used + 4, crc32(entry), true)
    target.set(entry, used + 8)
    used += 8 + entry.length
  }
  return used
}

function framedRead(fd: number): number {
  const chunk = new Uint8Array(1 << 20)
  const view = new DataView(chunk.buffer)
  let count = 0
  let fileOffset = 0
  let have = 0
  let at = 0
  for (;;) {
    if (have - at < 8 || have - at < 8 + view.getUint32(at, true)) {
      chunk.copyWithin(0, at, have)
      have -= at
      at = 0
      const n = readSync(fd, chunk, have, chunk.length - have, fileOffset)
      if (n === 0) break
      fileOffset += n
      have += n
      continue
    }
    const length = view.getUint32(at, true)
    const entry = chunk.slice(at + 8, at + 8 + length)
    if (crc32(entry) !== view.getUint32(at + 4, true)) throw new Error('crc mismatch')
    at += 8 + length
    count++
  }
  return count
}

// ---- Timing. ----

interface Row {
  entrySize: number
  operation: string
  subject: string
  entriesPerSec: number
  mbPerSec: number
}

const rows: Row[] = []
/**
 * Rounds timed after the warm-up ones. A round of 200,000 entries of 100 B takes 30–40 ms: with
 * one warm-up round and three timed ones, a row measured mostly how soon V8 had optimized its
 * loop, and it moved by a third from run to run; with these, by a few percent.
 */
const ROUNDS = 10
const WARMUP_ROUNDS = 3

/** Runs `body` WARMUP_ROUNDS + ROUNDS times, each after `setup`; keeps the best timed rate (least disturbed round). */
function measure(entrySize: number, operation: string, subject: string, count: number, setup: () => () => void): void {
  let bestNs = Infinity
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const body = setup()
    const start = process.hrtime.bigint()
    body()
    const ns = Number(process.hrtime.bigint() - start)
    if (round >= WARMUP_ROUNDS) bestNs = Math.min(bestNs, ns)
  }
  const entriesPerSec = count / (bestNs / 1e9)
  rows.push({ entrySize, operation, subject, entriesPerSec, mbPerSec: (entriesPerSec * entrySize) / 1e6 })
}

const dir = mkdtempSync(join(tmpdir(), 'aofkit-log-bench-'))
const manager = new Manager({ dir, flushIntervalMs: 0 })

function makeEntries(size: number, count: number): Uint8Array[] {
  const pool = new Uint8Array(size + 4096)
  for (let i = 0; i < pool.length; i++) pool[i] = (i * 2654435761) >>> 24
  return Array.from({ length: count }, (_, i) => pool.subarray(i % 4096, (i % 4096) + size))
}

function freshFd(name: string): number {
  const path = join(dir, name)
  rmSync(path, { force: true })
  return openSync(path, 'w+')
}

for (const [entrySize, count] of [
  [100, 200_000],
  [4096, 20_000],
] as const) {
  const entries = makeEntries(entrySize, count)
  const logged = new MemorySink({ capacity: count * (entrySize + 32) })
  const writer = new LogWriter(logged)
  for (const entry of entries) writer.append(entry)
  const logBytes = logged.bytes()

  // Append.
  measure(entrySize, 'append', 'LogWriter -> FileSink (64 KiB buffer)', count, () => {
    const fd = freshFd('log.file')
    return () => {
      const log = new LogWriter(new FileSink(fd, { position: 0 }))
      for (const entry of entries) log.append(entry)
      log.flush()
      closeSync(fd)
    }
  })
  measure(entrySize, 'append', 'LogWriter -> MemorySink', count, () => () => {
    const log = new LogWriter(new MemorySink({ capacity: 1 << 20 }))
    for (const entry of entries) log.append(entry)
  })
  measure(entrySize, 'append', 'LogWriter -> AppendOnlyFileSink', count, () => {
    rmSync(join(dir, 'log.aof'), { force: true })
    rmSync(join(dir, 'log.aof-shm'), { force: true })
    const file = manager.open('log.aof', { create: true, geometry: { sizeUpper: 256 * 1024 * 1024, growthStep: 16 * 1024 * 1024 } })
    return () => {
      const log = new LogWriter(new AppendOnlyFileSink(file))
      for (const entry of entries) log.append(entry)
      void file.close()
    }
  })
  measure(entrySize, 'append', 'baseline: fs.writeSync per entry', count, () => {
    const fd = freshFd('plain.file')
    return () => {
      for (const entry of entries) writeSync(fd, entry)
      closeSync(fd)
    }
  })
  measure(entrySize, 'append', 'baseline: framed log -> file (64 KiB buffer)', count, () => {
    const fd = freshFd('framed.file')
    return () => {
      framedWrite(fd, entries)
      closeSync(fd)
    }
  })
  measure(entrySize, 'append', 'baseline: framed log -> memory', count, () => {
    const target = new Uint8Array(count * (entrySize + 8))
    return () => {
      framedWriteMemory(entries, target)
    }
  })

  // Read everything back, every checksum verified.
  const logFd = freshFd('read.log')
  writeSync(logFd, logBytes)
  const framedFd = freshFd('read.framed')
  framedWrite(framedFd, entries)
  const readAll = (reader: LogReader) => {
    let n = 0
    while (reader.read() !== null) n++
    if (n !== count) throw new Error(`read ${n} of ${count}`)
  }
  measure(entrySize, 'read', 'LogReader <- FileSource (1 MiB chunks)', count, () => () => readAll(new LogReader(new FileSource(logFd))))
  measure(entrySize, 'read', 'LogReader <- MemorySource (views)', count, () => () => readAll(new LogReader(new MemorySource(logBytes))))
  {
    rmSync(join(dir, 'read.aof'), { force: true })
    rmSync(join(dir, 'read.aof-shm'), { force: true })
    const file = manager.open('read.aof', { create: true, geometry: { sizeUpper: 256 * 1024 * 1024 } })
    file.write(logBytes)
    measure(entrySize, 'read', 'LogReader <- AppendOnlyFileSource (views)', count, () => () => {
      readAll(new LogReader(new AppendOnlyFileSource(file)))
    })
    await file.close()
  }
  measure(entrySize, 'read', 'baseline: framed log <- file (crc32 each)', count, () => () => {
    if (framedRead(framedFd) !== count) throw new Error('framed read count')
  })
  closeSync(logFd)
  closeSync(framedFd)
}
await manager.close()
rmSync(dir, { recursive: true, force: true })

// ---- Report. ----

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, kernel: release(), tmpdir: tmpdir(), rows }, null, 2))
} else {
  console.log(`node ${process.version}, linux ${release()}, files in ${tmpdir()}; best of ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up rounds`)
  console.log(`crc32 for the framed baseline: ${zlibCrc32 === undefined ? 'table-driven' : 'node:zlib crc32'}`)
  for (const entrySize of [100, 4096]) {
    for (const operation of ['append', 'read']) {
      const group = rows.filter((row) => row.entrySize === entrySize && row.operation === operation)
      const baseline = (name: string) => group.find((row) => row.subject.startsWith(name))?.entriesPerSec ?? NaN
      const writeSyncRate = baseline('baseline: fs.writeSync')
      const framedRate = operation === 'read' ? baseline('baseline: framed log <- file') : baseline('baseline: framed log -> file')
      console.log(`\n${operation}, ${entrySize} B entries`)
      console.log(`  ${'subject'.padEnd(46)} ${'entries/s'.padStart(11)} ${'MB/s'.padStart(7)}  vs writeSync  vs framed`)
      for (const row of group) {
        const vsWrite = Number.isNaN(writeSyncRate) ? '' : `x${(row.entriesPerSec / writeSyncRate).toFixed(2)}`
        console.log(
          `  ${row.subject.padEnd(46)} ${Math.round(row.entriesPerSec).toLocaleString('en').padStart(11)} ${row.mbPerSec.toFixed(0).padStart(7)}  ${vsWrite.padStart(11)}  ${`x${(row.entriesPerSec / framedRate).toFixed(2)}`.padStart(9)}`,
        )
      }
    }
  }
}
