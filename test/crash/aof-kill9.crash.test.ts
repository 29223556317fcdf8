// Guarantee 1: kill -9 of the writer at any instant. A child writes a deterministic stream of
// operations (write, writeNonBlocking, append with unused reserve, checkpoint; records of
// random sizes, often empty, zero-padded or holding magic numbers) and acknowledges each on
// stdout; the parent kills it with SIGKILL after a random delay, reopens, and checks that the
// data is exactly the first k operations with acked <= k <= acked + 1, that the file is open
// for writing, and that it accepts more writes and reopens again. A small growth step makes
// kills during growth common. AOFKIT_SOAK=1 runs many more iterations.
import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'

import { ErrorCode, FileState, Manager, isAofkitError } from '../../src/index.ts'
import type { AppendOnlyFile } from '../../src/index.ts'
import { prng, spawnHelper } from '../helpers/child.ts'
import { ExpectedStream, crashOp } from '../helpers/crash-ops.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'
const ITERATIONS = SOAK ? 300 : 8
const MAX_RECORD = 24 * 1024
const SIZE_UPPER = 48 * 1024 * 1024
const BASE_SEED = Number(process.env['AOFKIT_CRASH_SEED'] ?? Date.now() % 1_000_000)

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (Buffer.compare(actual, expected) === 0) return
  let at = 0
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++
  assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}; first difference at ${at}`)
}

/** Runs a writer child from operation `start` and kills it after `delayMs`; returns acked count. */
async function runAndKill(path: string, seed: number, start: number, growthStep: number, delayMs: number): Promise<{ acked: number; full: boolean }> {
  const child = spawnHelper('crash-writer.ts', [path, String(seed), String(start), String(MAX_RECORD), String(growthStep), String(SIZE_UPPER)])
  await child.waitFor('R')
  await sleep(delayMs)
  child.process.kill('SIGKILL')
  const { code, signal } = await child.exited
  assert.equal(signal, 'SIGKILL', `writer ended on its own (code ${code}): ${child.stderr()}`)
  const out = child.stdout()
  let acked = 0
  for (const c of out) if (c === '.') acked++
  return { acked: start + acked, full: out.includes('F') }
}

/** Reopens and checks the data is the first k operations for acked <= k <= acked + 1. */
function checkReopened(file: AppendOnlyFile, expected: ExpectedStream, acked: number, context: string): number {
  assert.equal(file.state, FileState.Opened, `${context}: reopened in state ${file.state}, recovery ${JSON.stringify(file.recovery, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`)
  const counts = expected.countsWithSize(file.size, acked, acked + 1)
  assert.ok(
    counts.length > 0,
    `${context}: ${file.size} bytes after reopening; ${acked} acknowledged operations make ${expected.end(acked)}, one more makes ${expected.end(acked + 1)}`,
  )
  const k = counts[0]!
  sameBytes(file.contents(), expected.data(k), context)
  return k
}

/**
 * Writes `count` more operations of the stream from `from`, in this process; returns where it
 * stopped. A writer killed late may have filled the file up to its sizeUpper: the writes that
 * no longer fit are refused whole (ERR_AOF_FULL), and the stream stops there.
 */
function writeMore(file: AppendOnlyFile, seed: number, from: number, count: number): number {
  for (let i = from; i < from + count; i++) {
    const op = crashOp(seed, i, MAX_RECORD)
    try {
      if (op.kind === 'checkpoint') file.checkpoint()
      else file.write(op.bytes)
    } catch (error) {
      if (isAofkitError(error) && error.code === ErrorCode.Full) return i
      throw error
    }
  }
  return from + count
}

/** One iteration: a fresh file, one or two kills, each followed by reopen and more writes. */
async function iteration(dir: string, index: number, random: () => number): Promise<void> {
  const seed = (BASE_SEED * 7919 + index) >>> 0
  const path = join(dir, `kill-${index}.aof`)
  const expected = new ExpectedStream(seed, MAX_RECORD)
  const growthStep = random() < 0.5 ? 4096 : 64 * 1024
  const rounds = index % 4 === 3 ? 2 : 1
  const context = `iteration ${index} (seed ${seed}, AOFKIT_CRASH_SEED=${BASE_SEED})`
  let next = 0
  for (let round = 0; round < rounds; round++) {
    // The second writer starts on a file recovered from the first crash.
    const delayMs = 5 + Math.floor(random() * 195)
    const { acked } = await runAndKill(path, seed, next, growthStep, delayMs)
    const manager = new Manager({ flushIntervalMs: 0 })
    try {
      const file = manager.open(path)
      const k = checkReopened(file, expected, acked, `${context}, round ${round}, killed after ${delayMs} ms`)
      next = writeMore(file, seed, k, 5)
      await file.close()
      const again = manager.open(path)
      assert.equal(again.state, FileState.Opened)
      sameBytes(again.contents(), expected.data(next), `${context}, round ${round}: reopened after more writes`)
      await again.close()
    } finally {
      await manager.close()
    }
  }
  assert.ok(existsSync(`${path}-shm`))
  // Files are allocated far ahead of the writer: do not keep hundreds of them in a soak run.
  rmSync(path)
  rmSync(`${path}-shm`)
}

describe(`kill -9 of a writer (${ITERATIONS} iterations, AOFKIT_CRASH_SEED=${BASE_SEED})`, () => {
  it('keeps exactly every acknowledged write, at most the one in flight more, and stays writable', async (t) => {
    const dir = tmpDir(t, 'aofkit-kill9-')
    const random = prng(BASE_SEED)
    // Two iterations at a time: most of an iteration is a child starting up.
    let taken = 0
    const worker = async (): Promise<void> => {
      while (taken < ITERATIONS) await iteration(dir, taken++, random)
    }
    await Promise.all([worker(), worker()])
  })
})
