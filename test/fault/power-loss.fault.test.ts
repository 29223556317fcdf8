// Guarantee 2: once sync() resolves, its bytes survive power loss. A child writes on an ext4
// filesystem on a loop device, syncing often and acknowledging each resolved sync on stdout; at
// a random moment the filesystem is shut down without flushing its journal (FS_IOC_SHUTDOWN,
// NOLOGFLUSH: what was not on the device is lost, as in a power cut), then mounted again. The
// file must reopen holding everything acknowledged, and nothing that was never written: exactly
// a prefix of what the child wrote. The same file goes through every iteration, so cuts pile
// up. For the AppendOnlyFile, the record log on an AppendOnlyFile and on a plain file, and the
// StateStore on both. Needs root and a loop device (skipped otherwise, with the reason).
// AOFKIT_SOAK=1 runs many more iterations; AOFKIT_POWERLOSS_EARLY_ACK=1 makes the child
// acknowledge before sync() resolves, and these tests must then fail.
import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFileSource, FileSource, FileState, LogReader, Manager, isAofkitError } from '../../src/index.ts'
import type { AofkitError, AppendOnlyFile } from '../../src/index.ts'
import { readSidecarFile } from '../../src/aof/shm.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { prng } from '../helpers/child.ts'
import { ExpectedStream } from '../helpers/crash-ops.ts'
import { logEntry } from '../helpers/log-entries.ts'
import { lastAcknowledged, powerLossDisk, runUntilPowerCut } from '../helpers/power-loss.ts'
import type { PowerLossDisk } from '../helpers/power-loss.ts'
import { CRASH_INITIAL, crashApply, crashModel } from '../helpers/state-crash-model.ts'
import type { CrashState, CrashUpdate } from '../helpers/state-crash-model.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'
const ITERATIONS = SOAK ? 40 : 4
const BASE_SEED = Number(process.env['AOFKIT_CRASH_SEED'] ?? Date.now() % 1_000_000)
const MAX_RECORD = 4096

/** Delay between the child being ready and the cut: mostly mid-stream, sometimes at once. */
function delayOf(random: () => number): number {
  return random() < 0.2 ? Math.floor(random() * 20) : 20 + Math.floor(random() * 400)
}

/** Once the child filled its file (said `F`), removes it, so that the next cut starts a new one. */
function startAgainIfFull(stdout: string, path: string): boolean {
  if (!stdout.includes('F')) return false
  rmSync(path)
  rmSync(`${path}-shm`, { force: true })
  return true
}

/** Runs `iterations` cuts of one scenario on one disk: `cutOnce(disk, index, random)` each. */
async function cutRepeatedly(
  t: TestContext,
  salt: number,
  cutOnce: (disk: PowerLossDisk, index: number, random: () => number, context: string) => Promise<string>,
): Promise<void> {
  const disk = await powerLossDisk(t)
  if (disk === null) return
  const random = prng(BASE_SEED + salt)
  let summary = ''
  for (let index = 0; index < ITERATIONS; index++) {
    summary = await cutOnce(disk, index, random, `cut ${index} (AOFKIT_CRASH_SEED=${BASE_SEED})`)
  }
  t.diagnostic(`${disk.cuts} power cuts; ${summary}`)
}

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (Buffer.compare(actual, expected) === 0) return
  let at = 0
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++
  assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}; first difference at ${at}`)
}

/**
 * Opens the file at `path` after a cut, with what open decided and the sync record it decided
 * from, for failure messages; a refusal says what the sidecar held.
 */
function openAfterCut(manager: Manager, path: string, context: string): { file: AppendOnlyFile; found: string } {
  const page = readSidecarFile(path)
  const held = page === null ? 'no sidecar' : `a sidecar with ${JSON.stringify({ synced: page.synced, sameBoot: page.sameBoot, fileState: page.fileState })}`
  let file: AppendOnlyFile
  try {
    file = manager.open(path)
  } catch (error) {
    throw new Error(`${context}: the file does not reopen, beside ${held}`, { cause: error })
  }
  const { source, sidecar, cutBytes } = file.recovery
  return { file, found: `open decided ${JSON.stringify({ source, sidecar, cutBytes })} beside ${held}` }
}

/** Reads the record log from `reader`: every entry must be the next logEntry. Returns the count. */
function readEntries(reader: LogReader, context: string): { count: number; error: AofkitError | null } {
  let count = 0
  try {
    for (const entry of reader) {
      assert.ok(Buffer.from(entry).equals(logEntry(count)), `${context}: entry ${count} is not the one written (${entry.length} bytes)`)
      count++
    }
  } catch (error) {
    if (!isAofkitError(error)) throw error
    return { count, error }
  }
  return { count, error: null }
}

describe(`power loss after sync() (${ITERATIONS} cuts each, AOFKIT_CRASH_SEED=${BASE_SEED})`, () => {
  it('an AppendOnlyFile keeps every synced write, and nothing else than a prefix of the writes', (t) => {
    const seed = BASE_SEED >>> 0
    const expected = new ExpectedStream(seed, MAX_RECORD)
    let start = 0
    return cutRepeatedly(t, 1, async (disk, _index, random, context) => {
      const path = join(disk.dir, 'data.aof')
      const run = await runUntilPowerCut(disk, 'power-writer.ts', ['aof', path, String(seed), String(start), String(MAX_RECORD)], {
        delayMs: delayOf(random),
      })
      const acked = lastAcknowledged(run.stdout, 'A', start)
      // Cut before the first sync, the new file need not exist.
      if (acked === 0 && !existsSync(path)) return 'no file: cut before the first sync'
      const manager = new Manager({ flushIntervalMs: 0 })
      try {
        const { file, found } = openAfterCut(manager, path, context)
        assert.equal(file.state, FileState.Opened, `${context}: reopened in state ${file.state}`)
        assert.ok(file.size >= expected.end(acked), `${context}: ${file.size} bytes after the cut; ${acked} synced operations make ${expected.end(acked)}; ${found}`)
        let k = acked
        while (expected.end(k) < file.size) k++
        assert.equal(expected.end(k), file.size, `${context}: ${file.size} bytes is not the size after a whole number of operations`)
        sameBytes(file.contents(), expected.data(k), context)
        start = k
        await file.close()
      } finally {
        await manager.close()
      }
      const summary = `${start} operations held, ${expected.end(start)} bytes`
      if (startAgainIfFull(run.stdout, path)) start = 0
      return summary
    })
  })

  it('a record log on an AppendOnlyFile keeps every synced entry, and nothing else', (t) =>
    cutRepeatedly(t, 2, async (disk, _index, random, context) => {
      const path = join(disk.dir, 'log.aof')
      const run = await runUntilPowerCut(disk, 'power-writer.ts', ['log-aof', path], { delayMs: delayOf(random) })
      const acked = lastAcknowledged(run.stdout, 'A', lastAcknowledged(run.stdout, 'R'))
      if (acked === 0 && !existsSync(path)) return 'no file: cut before the first sync'
      const manager = new Manager({ flushIntervalMs: 0 })
      try {
        const { file, found } = openAfterCut(manager, path, context)
        assert.equal(file.state, FileState.Opened, `${context}: reopened in state ${file.state}`)
        const { count, error } = readEntries(new LogReader(new AppendOnlyFileSource(file)), context)
        assert.equal(error, null, `${context}: the log does not read to its end after ${count} entries: ${String(error)}; ${found}`)
        assert.ok(count >= acked, `${context}: ${count} entries after the cut, ${acked} were synced; ${found}`)
        await file.close()
        startAgainIfFull(run.stdout, path)
        return `${count} entries held`
      } finally {
        await manager.close()
      }
    }))

  it('a record log on a plain file keeps every synced entry, and nothing else', (t) =>
    cutRepeatedly(t, 3, async (disk, index, random, context) => {
      // A new file each time: a plain file's log is not continued after a torn tail.
      const path = join(disk.dir, `log-${index}.log`)
      const run = await runUntilPowerCut(disk, 'power-writer.ts', ['log-file', path], { delayMs: delayOf(random) })
      const acked = lastAcknowledged(run.stdout, 'A')
      const fd = openSync(path, 'r')
      try {
        const { count, error } = readEntries(new LogReader(new FileSource(fd)), context)
        // An entry torn by the cut may end the log with an error, but only after the synced ones.
        assert.ok(count >= acked, `${context}: ${count} entries read after the cut, ${acked} were synced${error === null ? '' : `; then ${String(error)}`}`)
        return `${count} entries held in the last file`
      } finally {
        closeSync(fd)
      }
    }))

  for (const storage of ['file', 'aof'] as const) {
    it(`a StateStore (${storage === 'aof' ? 'AppendOnlyFile' : 'plain file'}) keeps every update whose promise resolved, through snapshots and compactions`, (t) =>
      cutRepeatedly(t, storage === 'aof' ? 5 : 4, async (disk, index, random, context) => {
        const path = join(disk.dir, storage === 'aof' ? 'state.aof' : 'state.log')
        const run = await runUntilPowerCut(disk, 'power-writer.ts', [`state-${storage}`, path, String(BASE_SEED + index)], {
          delayMs: delayOf(random),
        })
        const acked = lastAcknowledged(run.stdout, 'A', lastAcknowledged(run.stdout, 'R'))
        const store = await StateStore.open<CrashState, CrashUpdate>({
          path,
          initial: CRASH_INITIAL,
          apply: crashApply,
          appendOnlyFile: storage === 'aof',
        })
        try {
          const n = store.state.n
          assert.ok(n >= acked, `${context}: ${n} updates after the cut, ${acked} had resolved; cut on open: ${JSON.stringify(store.cut)}`)
          assert.deepEqual(store.state, crashModel(n), `${context}: not the state after the first ${n} updates`)
          return `${n} updates held`
        } finally {
          await store.close()
        }
      }))
  }
})
