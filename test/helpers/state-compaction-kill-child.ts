/**
 * Child process of the compaction kill test: runs a StateStore that compacts by policy, and
 * kills itself with SIGKILL at one step of its `occurrence`-th compaction. The steps are found
 * through `node:fs` (replaced before the library is loaded, as a fault test replaces it), not
 * through anything in the library:
 *
 * - `before-rename`: the temporary log is complete and durable, not yet renamed over the log;
 * - `after-rename`: the temporary log was just renamed over the log (over an AppendOnlyFile,
 *   its sidecar not yet);
 * - `after-sidecar-rename`: (AppendOnlyFile only) the sidecar followed, the directory is not
 *   yet fsynced;
 * - `after-directory-sync`: the directory was fsynced; the entries queued behind the compaction
 *   are not yet appended.
 *
 *   node --import tsx test/helpers/state-compaction-kill-child.ts <path> <file|aof> <step> <occurrence> <always|interval>
 *
 * What it does: updates 0-9 one by one; then, in one turn, a snapshot (the policy starts the
 * first compaction at it), updates 10-19, a snapshot (queued; appended when the first
 * compaction ends, it starts the second) and updates 20-29; then updates 30-39 one by one.
 *
 * Protocol on stdout (written synchronously): "R<n>;" once open; "." each time an update's
 * promise resolved; "K;" just before it kills itself; "D;" if it got through without reaching
 * the step.
 */
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import fsPromises from 'node:fs/promises'
import { dirname } from 'node:path'
import { CRASH_INITIAL, crashApply, padSize } from './state-crash-model.ts'
import type { CrashState, CrashUpdate } from './state-crash-model.ts'

const [path, storage, step, occurrenceText, mode] = process.argv.slice(2)
const steps = ['before-rename', 'after-rename', 'after-sidecar-rename', 'after-directory-sync']
if (path === undefined || (storage !== 'file' && storage !== 'aof') || !steps.includes(step ?? '') || occurrenceText === undefined) {
  process.stderr.write('usage: state-compaction-kill-child <path> <file|aof> <step> <occurrence> <always|interval>\n')
  process.exit(2)
}
const occurrence = Number(occurrenceText)
const temporary = `${path}.compact`
const say = (text: string): void => {
  fs.writeSync(1, text)
}
const kill = (): never => {
  say('K;')
  process.kill(process.pid, 'SIGKILL')
  throw new Error('still alive after SIGKILL')
}

// The compaction being killed: set when its temporary log is about to be renamed.
let compactions = 0
let armed = false
const renameSync = fs.renameSync
fs.renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
  if (from === temporary && ++compactions === occurrence) {
    armed = true
    if (step === 'before-rename') kill()
  }
  renameSync(from, to)
  if (armed && from === temporary && step === 'after-rename') kill()
  if (armed && from === `${temporary}-shm` && step === 'after-sidecar-rename') kill()
}
const open = fsPromises.open
fsPromises.open = async (...args: Parameters<typeof open>): Promise<fsPromises.FileHandle> => {
  const handle = await open(...args)
  if (armed && step === 'after-directory-sync' && args[0] === dirname(path)) {
    const sync = handle.sync.bind(handle)
    handle.sync = async (): Promise<void> => {
      await sync()
      kill()
    }
  }
  return handle
}
syncBuiltinESMExports()

// Loaded after node:fs is replaced (its named imports are live bindings, but to be plain about it).
const { StateStore } = await import('../../src/state/state-store.ts')

const store = await StateStore.open<CrashState, CrashUpdate>({
  path,
  initial: CRASH_INITIAL,
  apply: crashApply,
  snapshotEvery: 0,
  sync: mode === 'always' ? 'always' : 'interval',
  syncIntervalMs: 5,
  appendOnlyFile: storage === 'aof',
  // Any snapshot after an update starts a compaction.
  compactWhen: { ratio: 2, sizeMin: 1 },
})
say(`R${store.state.n};`)
let next = store.state.n
const update = (): Promise<void> => {
  const i = next++
  return store.update({ i, pad: 'x'.repeat(padSize(i)) }).then(() => say('.'))
}
for (let k = 0; k < 10; k++) await update()
const calls: Promise<unknown>[] = [store.snapshot()]
for (let k = 0; k < 10; k++) calls.push(update())
calls.push(store.snapshot())
for (let k = 0; k < 10; k++) calls.push(update())
await Promise.all(calls)
for (let k = 0; k < 10; k++) await update()
await store.close()
say('D;')
