/**
 * The state log's hot paths, each against its baseline in the same run:
 *
 * - durable updates/s with sync: 'always' and 1, 16 and 256 concurrent writers (group commit),
 *   against one write + fdatasync per update (what an application does without group commit);
 * - non-durable updates/s (sync: 'none');
 * - restore of 1,000,000 updates of 100 B (updates/s), from a path and from bytes;
 * - restore of a 100 MiB snapshot (MiB/s).
 *
 *   node --import tsx bench/state.bench.ts [--json] [--dir <directory>]
 *
 * The files go to the directory given (default: the OS temporary directory); durable figures
 * depend on its file system and disk.
 * @module
 */
import './built.ts'
import { closeSync, fdatasync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { restore } from '../dist/state/restore.js'
import { StateWriter } from '../dist/state/state-writer.js'
import { nowNs } from './harness.ts'

const args = process.argv.slice(2)
const json = args.includes('--json')
const dirIndex = args.indexOf('--dir')
const base = dirIndex >= 0 ? (args[dirIndex + 1] as string) : tmpdir()
const dir = mkdtempSync(join(base, 'aofkit-state-bench-'))
const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 2000)
const results: Record<string, number> = {}

function report(name: string, value: number, unit: string): void {
  results[name] = value
  if (!json) console.log(`${name.padEnd(44)} ${value.toFixed(0).padStart(12)} ${unit}`)
}

function payload(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (seed * 31 + i * 7) & 0xff
  return bytes
}

/** Baseline: one pwrite and one fdatasync per update, one after the other. */
async function fdatasyncEach(): Promise<number> {
  const path = join(dir, 'baseline.log')
  const fd = openSync(path, 'w')
  const data = payload(100, 1)
  let count = 0
  let position = 0
  const start = nowNs()
  while (nowNs() - start < DURATION_MS * 1e6) {
    position += writeSync(fd, data, 0, data.length, position)
    await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error === null ? resolve() : reject(error))))
    count++
  }
  const seconds = (nowNs() - start) / 1e9
  closeSync(fd)
  rmSync(path)
  return count / seconds
}

/** StateWriter with sync: 'always' and `writers` concurrent loops of await update(). */
async function groupCommit(writers: number): Promise<number> {
  const path = join(dir, `always-${writers}.log`)
  const writer = await StateWriter.open(path, { sync: 'always' })
  const data = payload(100, 2)
  let count = 0
  const start = nowNs()
  const deadline = start + DURATION_MS * 1e6
  const loop = async (): Promise<void> => {
    while (nowNs() < deadline) {
      await writer.update(data)
      count++
    }
  }
  await Promise.all(Array.from({ length: writers }, loop))
  const seconds = (nowNs() - start) / 1e9
  await writer.close()
  rmSync(path)
  return count / seconds
}

/** StateWriter with sync: 'none': 1,000,000 updates of 100 B; the file is kept for restore. */
async function nonDurable(path: string, count: number): Promise<number> {
  const writer = await StateWriter.open(path, { sync: 'none' })
  const data = payload(100, 3)
  const start = nowNs()
  for (let i = 0; i < count; i++) {
    // Resolved at once in this mode; awaiting every one would time the microtask queue.
    void writer.update(data)
  }
  await writer.update(data)
  await writer.close()
  return (count + 1) / ((nowNs() - start) / 1e9)
}

function restoreRate(source: string | Uint8Array): number {
  const start = nowNs()
  const restored = restore(source)
  let count = 0
  let bytes = 0
  for (const update of restored.updates) {
    count++
    bytes += update.length
  }
  const seconds = (nowNs() - start) / 1e9
  if (count < 1_000_000 || bytes !== count * 100) throw new Error(`restored ${count} updates, ${bytes} bytes`)
  return count / seconds
}

async function snapshotRestore(): Promise<number> {
  const path = join(dir, 'snapshot.log')
  const size = 100 * 1024 * 1024
  const writer = await StateWriter.open(path, { sync: 'none' })
  await writer.snapshot(payload(size, 4))
  await writer.update(payload(100, 5))
  await writer.close()
  const start = nowNs()
  const restored = restore(path)
  const updates = [...restored.updates].length
  const seconds = (nowNs() - start) / 1e9
  if (restored.state?.length !== size || updates !== 1) throw new Error('snapshot restore failed')
  rmSync(path)
  return size / (1024 * 1024) / seconds
}

try {
  if (!json) console.log(`node ${process.version}, files in ${dir}`)
  const baseline = await fdatasyncEach()
  report('baseline: write + fdatasync per update', baseline, 'updates/s')
  for (const writers of [1, 16, 256]) {
    const rate = await groupCommit(writers)
    report(`sync: 'always', ${writers} writers`, rate, 'updates/s')
    report(`  ratio to baseline (${writers} writers)`, rate / baseline, 'x')
  }
  const logPath = join(dir, 'million.log')
  report(`sync: 'none', 1 writer`, await nonDurable(logPath, 1_000_000), 'updates/s')
  report('restore 1,000,000 x 100 B from a path', restoreRate(logPath), 'updates/s')
  report('restore 1,000,000 x 100 B from bytes', restoreRate(new Uint8Array(readFileSync(logPath))), 'updates/s')
  results['log bytes'] = statSync(logPath).size
  report('restore a 100 MiB snapshot from a path', await snapshotRestore(), 'MiB/s')
  if (json) console.log(JSON.stringify({ node: process.version, results }, null, 2))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
