// A crash never stops a state log from opening again, and never loses an acknowledged update.
// A child process runs a StateStore (updates, some spanning blocks and some in concurrent
// batches; snapshots; compactions, some running while updates go on) and is killed with
// SIGKILL after a random delay. The parent then opens the store: it must open (cutting a torn
// tail if any), hold exactly the state after some prefix of the updates, and with
// sync: 'always' hold at least every update the child acknowledged. The same file goes through
// every iteration, so crashes pile up. The log is kept in a plain file, and in an
// AppendOnlyFile, whose compaction swaps a new data file and sidecar in. Both also compact by
// policy, so that a compaction may start while the entries queued behind another one are
// appended. AOFKIT_SOAK=1 runs many more iterations.
//
// Replaying a failure: the suite's name and every failure name the seed, as
// AOFKIT_CRASH_SEED=<n> (by default the seed is taken from the clock). Run
//   AOFKIT_CRASH_SEED=<n> node --import tsx --test test/crash/state-kill9.crash.test.ts
// (with AOFKIT_SOAK=1 if the failure was in a soak run) to replay the same children (their
// operations) and the same kill delays. Where the kill lands among the child's writes still
// depends on timing, so a replay may need a few runs. A failed iteration keeps its log files in
// <tmpdir>/aofkit-state-kill9-failed-<seed>-<storage>-<iteration>/ and names that directory.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { TestContext } from 'node:test'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { AppendOnlyFile } from '../../src/aof/append-only-file.ts'
import { RecoveryReadOnly } from '../../src/aof/open-file.ts'
import { sidecarPath } from '../../src/aof/shm.ts'
import { compactionPath } from '../../src/state/compaction.ts'
import { restore } from '../../src/state/restore.ts'
import type { Restored } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { CRASH_INITIAL, crashApply, crashModel } from '../helpers/state-crash-model.ts'
import type { CrashState, CrashUpdate } from '../helpers/state-crash-model.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SOAK = process.env['AOFKIT_SOAK'] === '1'
const ITERATIONS = SOAK ? 200 : 6
const BASE_SEED = Number(process.env['AOFKIT_CRASH_SEED'] ?? Date.now() % 1_000_000)

/** Runs the child until it is open, lets it work `delayMs`, kills it; returns what it said. */
async function runAndKill(
  path: string,
  seed: number,
  mode: string,
  storage: Storage,
  delayMs: number,
  epochs: Epochs,
): Promise<{ start: number; acked: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/state-crash-child.ts', path, String(seed), mode, storage, epochs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('latin1').on('data', (chunk: string) => (out += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)))
  while (!out.includes(';')) {
    if (child.exitCode !== null) break
    await sleep(5)
  }
  await sleep(delayMs)
  child.kill('SIGKILL')
  const signal = await exited
  assert.equal(signal, 'SIGKILL', `the child ended by itself: ${err}`)
  const match = /^R(\d+);/.exec(out)
  assert.ok(match !== null, `the child did not open: ${err}`)
  let acked = 0
  for (const c of out) if (c === '.') acked++
  return { start: Number(match[1]), acked }
}

type Storage = 'file' | 'aof'
/** `long-epochs`: rare snapshots, so an epoch's updates outgrow a file source's 1 MiB buffer. */
type Epochs = 'short' | 'long-epochs'

/** What a plain restore of the log gives, applied to the model's state. */
function restoredState(path: string, storage: Storage): CrashState {
  const replay = (restored: Restored): CrashState => {
    let state: CrashState = restored.state === null ? CRASH_INITIAL : (JSON.parse(Buffer.from(restored.state).toString()) as CrashState)
    for (const update of restored.updates) state = crashApply(state, JSON.parse(Buffer.from(update).toString()) as CrashUpdate)
    return state
  }
  if (storage === 'file') return replay(restore(path))
  const file = AppendOnlyFile.open(path, { recovery: RecoveryReadOnly })
  try {
    return replay(restore(file))
  } finally {
    void file.close()
  }
}

async function killRepeatedly(t: TestContext, storage: Storage, epochs: Epochs = 'short'): Promise<void> {
  const base = tmpDir(t, 'aofkit-state-kill9-')
  mkdirSync(join(base, 'log'))
  const path = join(base, 'log', storage === 'file' ? 'state.log' : 'state.aof')
  let random = (BASE_SEED + (storage === 'file' ? 0 : 7919)) >>> 0
  const next = (): number => {
    random = (Math.imul(random, 1664525) + 1013904223) >>> 0
    return random / 4294967296
  }
  let known = 0
  let cuts = 0
  let midCompaction = 0
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const mode = iteration % 3 === 2 ? (iteration % 2 === 0 ? 'none' : 'interval') : 'always'
    const delayMs = 20 + Math.floor(next() * 250)
    const context = `${storage} iteration ${iteration} (${mode}, AOFKIT_CRASH_SEED=${BASE_SEED})`
    const { start, acked } = await runAndKill(path, BASE_SEED + iteration, mode, storage, delayMs, epochs)
    // The files as the kill left them, kept if this iteration fails.
    const killed = join(base, `killed-${iteration}`)
    cpSync(dirname(path), killed, { recursive: true })
    try {
      assert.ok(start >= known, `${context}: the child restored ${start} updates, ${known} were known`)
      if (existsSync(compactionPath(path))) midCompaction++
      let store: StateStore<CrashState, CrashUpdate>
      try {
        store = await StateStore.open<CrashState, CrashUpdate>({
          path,
          initial: CRASH_INITIAL,
          apply: crashApply,
          appendOnlyFile: storage === 'aof',
        })
      } catch (error) {
        throw new Error(`${context}: the store does not open: ${String(error)}`, { cause: error })
      }
      if (store.cut !== null) cuts++
      const n = store.state.n
      assert.deepEqual(store.state, crashModel(n), `${context}: not the state after a prefix`)
      if (mode === 'always') assert.ok(n >= start + acked, `${context}: ${n} updates, ${start + acked} acknowledged`)
      assert.equal(existsSync(compactionPath(path)), false, `${context}: compaction leftover`)
      assert.equal(existsSync(sidecarPath(compactionPath(path))), false, `${context}: compaction sidecar leftover`)
      await store.close()
      // Plain restore agrees once the tail is cut.
      assert.deepEqual(restoredState(path, storage), store.state, `${context}: restore disagrees with the store`)
      known = n
    } catch (error) {
      const kept = join(tmpdir(), `aofkit-state-kill9-failed-${BASE_SEED}-${storage}-${iteration}`)
      cpSync(killed, kept, { recursive: true })
      t.diagnostic(`${context}: the files the kill left are kept in ${kept}`)
      throw error
    }
    rmSync(killed, { recursive: true, force: true })
  }
  t.diagnostic(`${storage}, ${epochs} epochs (last ${epochBytes(path, storage)} bytes): ${known} updates survived ${ITERATIONS} kills; ${cuts} torn tails cut; ${midCompaction} kills left a compaction behind`)
}

/** Bytes of the last epoch's updates in the log at `path`: from its snapshot to the end. */
function epochBytes(path: string, storage: Storage): number {
  if (storage === 'aof') return -1
  const restored = restore(path)
  const size = statSync(path).size
  restored.updates.close()
  return size - (restored.epoch === 0 ? 0 : restored.epoch)
}

describe(`kill -9 of a state log writer (${ITERATIONS} iterations each, seed ${BASE_SEED})`, () => {
  it('reopens to the state after a prefix of the updates, holding every acknowledged one (plain file)', (t) =>
    killRepeatedly(t, 'file'))
  it('reopens to the state after a prefix of the updates, holding every acknowledged one (AppendOnlyFile)', (t) =>
    killRepeatedly(t, 'aof'))
  it('reopens to the state after a prefix of the updates, holding every acknowledged one (plain file, epochs of several MiB)', (t) =>
    killRepeatedly(t, 'file', 'long-epochs'))
})
