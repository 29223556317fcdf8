/**
 * Child process of the state log crash test: opens a StateStore and runs updates (some large
 * enough to span blocks, some in concurrent batches), snapshots and compactions as fast as it
 * can, until it is killed.
 *
 *   node --import tsx test/helpers/state-crash-child.ts <path> <seed> <always|interval|none> [file|aof] [long-epochs]
 *
 * With `long-epochs`, snapshots and compactions are rare, so an epoch's updates grow to
 * several MiB: more than a file source reads at once. Otherwise the store also snapshots and
 * compacts by itself (in an AppendOnlyFile of 1 MiB by its default policy; in a plain file
 * every 16 updates, and past 32 KiB), so that snapshots fall inside batches of updates and a
 * compaction may start while entries queued behind another one are appended.
 *
 * Protocol on stdout (written synchronously): "R<n>;" once open, n being the number of updates
 * the restored state holds; then one "." each time an update's promise resolved.
 */
import { StateStore } from '../../src/state/state-store.ts'
import type { SyncMode } from '../../src/state/state-writer.ts'
import { CRASH_INITIAL, crashApply, padSize } from './state-crash-model.ts'
import type { CrashState, CrashUpdate } from './state-crash-model.ts'
import { writeStdoutSync } from './stdout.ts'

const [path, seedText, mode, storage = 'file', epochs = 'short'] = process.argv.slice(2)
if (path === undefined || seedText === undefined || mode === undefined) {
  process.stderr.write('usage: state-crash-child <path> <seed> <mode>\n')
  process.exit(2)
}
let seed = Number(seedText) >>> 0
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const store = await StateStore.open<CrashState, CrashUpdate>({
  path,
  initial: CRASH_INITIAL,
  apply: crashApply,
  sync: mode as SyncMode,
  syncIntervalMs: 5,
  ...(epochs === 'long-epochs'
    ? { snapshotEvery: 0, appendOnlyFile: storage === 'aof' }
    : storage === 'aof'
      ? // The default policy; 1 MiB files, so that its snapshots (every 256 KiB of updates) and compactions come often.
        { snapshotEvery: 0, appendOnlyFile: { geometry: { sizeUpper: 1 << 20 } } }
      : { snapshotEvery: 16, compactWhen: { ratio: 2, sizeMin: 32 * 1024 } }),
})
const say = writeStdoutSync
say(`R${store.state.n};`)
const ack = (): void => {
  say('.')
}
let next = store.state.n
const update = (): Promise<void> => {
  const i = next++
  return store.update({ i, pad: 'x'.repeat(padSize(i)) }).then(ack)
}
// Chances of a snapshot and of a compaction per step (else updates, single or batched).
const [snapshotChance, compactChance] = epochs === 'long-epochs' ? [0.005, 0.005] : [0.1, 0.05]
for (;;) {
  const choice = random()
  if (choice < 0.7) await update()
  else if (choice < 0.85) {
    const batch: Promise<void>[] = []
    const count = 1 + Math.floor(random() * 64)
    for (let k = 0; k < count; k++) batch.push(update())
    await Promise.all(batch)
  } else if (choice < 0.85 + snapshotChance) await store.snapshot()
  else if (choice >= 1 - compactChance) {
    // Half the compactions run while updates go on (they queue behind it, in order).
    const compacting = store.compact().catch((error: unknown) => {
      process.stderr.write(`compaction failed: ${String(error)}\n`)
      process.exit(1)
    })
    if (random() < 0.5) await compacting
  } else await update()
}
