// A state log writer killed with SIGKILL at each step of a compaction reopens to the state after
// a prefix of its updates, holding every one it acknowledged, with no temporary file left, and
// writes on. The child (test/helpers/state-compaction-kill-child.ts) finds the steps through
// node:fs: before the rename of the temporary log, after it, after the sidecar's (an
// AppendOnlyFile), after the directory's fsync (the entries queued behind the compaction not yet
// appended); at the first compaction, and at the second, which the policy starts at a snapshot
// queued behind the first (the entries after that snapshot must wait for it, not go to the log
// it replaces). In a plain file and in an AppendOnlyFile.
//
// The child runs with sync: 'interval': an update resolves as soon as it is appended, so every
// update appended before the kill is acknowledged, and a kill after a rename catches an update
// that went to the replaced log. It still survives a kill: the compaction flushes a plain
// file's entries to the OS before it reads them, an AppendOnlyFile's are in its mapping at once,
// and every step comes after the compaction's own I/O, turns after the appends. AOFKIT_SOAK=1
// also runs every case with sync: 'always'.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { describe, it } from 'node:test'
import { sidecarPath } from '../../src/aof/shm.ts'
import { compactionPath } from '../../src/state/compaction.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { spawnHelper } from '../helpers/child.ts'
import { CRASH_INITIAL, crashApply, crashModel, padSize } from '../helpers/state-crash-model.ts'
import type { CrashState, CrashUpdate } from '../helpers/state-crash-model.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'
const MODES = SOAK ? ['interval', 'always'] : ['interval']

type Storage = 'file' | 'aof'

function openStore(path: string, storage: Storage): Promise<StateStore<CrashState, CrashUpdate>> {
  return StateStore.open<CrashState, CrashUpdate>({ path, initial: CRASH_INITIAL, apply: crashApply, appendOnlyFile: storage === 'aof' })
}

async function killAtStep(t: TestContext, storage: Storage, step: string, occurrence: number, mode: string): Promise<void> {
  const path = join(tmpDir(t, 'aofkit-state-compaction-kill9-'), storage === 'file' ? 'state.log' : 'state.aof')
  const context = `${storage}, ${step} of compaction ${occurrence}, sync '${mode}'`
  const child = spawnHelper('state-compaction-kill-child.ts', [path, storage, step, String(occurrence), mode])
  const { signal } = await child.exited
  assert.ok(child.stdout().includes('K;'), `${context}: the child never reached the step (${child.stdout()}); stderr: ${child.stderr()}`)
  assert.equal(signal, 'SIGKILL', `${context}: ${child.stderr()}`)
  let acked = 0
  for (const c of child.stdout()) if (c === '.') acked++
  let store: StateStore<CrashState, CrashUpdate>
  try {
    store = await openStore(path, storage)
  } catch (error) {
    throw new Error(`${context}: the store does not open: ${String(error)}`, { cause: error })
  }
  const n = store.state.n
  assert.deepEqual(store.state, crashModel(n), `${context}: not the state after a prefix`)
  assert.ok(n >= acked, `${context}: ${n} updates, ${acked} acknowledged`)
  assert.equal(existsSync(compactionPath(path)), false, `${context}: compaction leftover`)
  assert.equal(existsSync(sidecarPath(compactionPath(path))), false, `${context}: compaction sidecar leftover`)
  // It writes on, and the next open sees that too.
  await store.update({ i: n, pad: 'x'.repeat(padSize(n)) })
  await store.close()
  const again = await openStore(path, storage)
  assert.deepEqual(again.state, crashModel(n + 1), `${context}: the update after the kill`)
  await again.close()
}

describe('kill -9 of a state log writer at each step of a compaction', () => {
  for (const storage of ['file', 'aof'] as const) {
    const steps = ['before-rename', 'after-rename', ...(storage === 'aof' ? ['after-sidecar-rename'] : []), 'after-directory-sync']
    for (const occurrence of [1, 2]) {
      for (const step of steps) {
        const which = occurrence === 1 ? 'a compaction' : 'a compaction started by a snapshot queued behind another'
        it(`${storage === 'aof' ? 'AppendOnlyFile' : 'plain file'}: killed ${step} of ${which}`, async (t) => {
          for (const mode of MODES) await killAtStep(t, storage, step, occurrence, mode)
        })
      }
    }
  }
})
