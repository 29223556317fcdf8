/**
 * Child process of the power loss tests: writes to a file as fast as it can, calling `sync()`
 * often, and acknowledges on stdout what each resolved `sync()` promised, until the power is
 * cut and it is killed.
 *
 *   node --import tsx test/helpers/power-writer.ts aof <path> <seed> <start> <maxSize>
 *   node --import tsx test/helpers/power-writer.ts log-aof|log-file <path>
 *   node --import tsx test/helpers/power-writer.ts state-aof|state-file <path> <seed>
 *
 * - `aof`: an AppendOnlyFile running the crash tests' operation stream (crash-ops.ts) from
 *   operation `start`, which the file must already hold.
 * - `log-aof`: a record log on an AppendOnlyFile (`logEntry(0)`, `logEntry(1)`, ...), continued
 *   after the entries the file holds.
 * - `log-file`: a record log on a new plain file through a FileSink; the file and its directory
 *   entry are synced before the first entry, as a careful application does.
 * - `state-aof`, `state-file`: a StateStore with `sync: 'always'` (the crash tests' model),
 *   with snapshots and compactions now and then.
 *
 * Protocol on stdout (written synchronously): `R<n>;` once open (n: operations, entries or
 * updates already there), then `A<n>;` each time a `sync()` (or an update's promise) resolved,
 * n being how many the file then held for sure. Several syncs run at once, so acknowledgements
 * can arrive out of order; the largest counts. `F` when an AppendOnlyFile is full: it then
 * holds what the last `A` says, and the child writes no more.
 *
 * AOFKIT_POWERLOSS_EARLY_ACK=1 makes the child lie: it acknowledges before `sync()` resolves (the
 * state store runs with `sync: 'none'`). The power loss tests must then fail: that is how to
 * check that they can.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'

import { AppendOnlyFile, AppendOnlyFileSink, AppendOnlyFileSource, FileSink, LogReader, LogWriter, isAofkitError } from '../../src/index.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { prng } from './child.ts'
import { ExpectedStream, crashOp } from './crash-ops.ts'
import { logEntry } from './log-entries.ts'
import { CRASH_INITIAL, crashApply, padSize } from './state-crash-model.ts'
import type { CrashState, CrashUpdate } from './state-crash-model.ts'
import { writeStdoutSync as say } from './stdout.ts'

const EARLY_ACK = process.env['AOFKIT_POWERLOSS_EARLY_ACK'] === '1'
/** Syncs in flight at most: the writer goes on writing while they run. */
const SYNCS_IN_FLIGHT = 3

/** The size of the AppendOnlyFiles: small steps, so that the power is often cut during growth. */
export const POWER_GEOMETRY = { sizeNow: 4096, growthStep: 64 * 1024, sizeUpper: 48 * 1024 * 1024 }

const [mode, path, ...rest] = process.argv.slice(2)
if (mode === undefined || path === undefined) {
  process.stderr.write('usage: power-writer <mode> <path> ...\n')
  process.exit(2)
}

/**
 * Runs `step()` (which writes something and returns how many operations the file then holds,
 * or null when the file is full) in batches, starting a sync after each batch and
 * acknowledging when it resolves. Once the file is full, says `F` after that last sync and
 * waits to be killed.
 */
async function writeAndSync(random: () => number, step: () => number | null, sync: () => Promise<void>): Promise<never> {
  const inFlight = new Set<Promise<void>>()
  let isFull = false
  let held = 0
  for (;;) {
    const batch = 1 + Math.floor(random() * 24)
    for (let k = 0; k < batch && !isFull; k++) {
      const after = step()
      if (after === null) isFull = true
      else held = after
    }
    if (isFull) {
      await Promise.all(inFlight)
      await sync()
      say(`A${held};F`)
      setInterval(() => undefined, 1000)
      return new Promise<never>(() => undefined)
    }
    if (EARLY_ACK) say(`A${held};`)
    const promised = held
    const syncing = sync().then(() => {
      if (!EARLY_ACK) say(`A${promised};`)
    })
    inFlight.add(syncing)
    void syncing.finally(() => inFlight.delete(syncing))
    if (inFlight.size >= SYNCS_IN_FLIGHT) await Promise.race(inFlight)
    else await yieldToLoop()
  }
}

async function runAof(): Promise<void> {
  const [seedText, startText, maxSizeText] = rest
  const seed = Number(seedText)
  const start = Number(startText)
  const maxSize = Number(maxSizeText)
  const file = AppendOnlyFile.open(path!, { create: true, geometry: POWER_GEOMETRY })
  const expected = new ExpectedStream(seed, maxSize)
  if (file.size !== expected.end(start)) throw new Error(`opened with size ${file.size}, expected ${expected.end(start)} for ${start} operations`)
  say(`R${start};`)
  let next = start
  await writeAndSync(
    prng(seed + start),
    () => {
      const op = crashOp(seed, next, maxSize)
      try {
        if (op.kind === 'checkpoint') file.checkpoint()
        else file.write(op.bytes)
      } catch (error) {
        if (isAofkitError(error, 'ERR_AOF_FULL')) return null
        throw error
      }
      return ++next
    },
    () => file.sync(),
  )
}

async function runLogAof(): Promise<void> {
  const file = AppendOnlyFile.open(path!, { create: true, geometry: POWER_GEOMETRY })
  let next = 0
  for (const entry of new LogReader(new AppendOnlyFileSource(file))) {
    if (!Buffer.from(entry).equals(logEntry(next))) throw new Error(`entry ${next} on reopening is not logEntry(${next})`)
    next++
  }
  const writer = new LogWriter(new AppendOnlyFileSink(file))
  say(`R${next};`)
  await writeAndSync(
    prng(next),
    () => {
      try {
        writer.append(logEntry(next))
      } catch (error) {
        if (isAofkitError(error, 'ERR_AOF_FULL')) return null
        throw error
      }
      return ++next
    },
    () => file.sync(),
  )
}

async function runLogFile(): Promise<void> {
  const fd = openSync(path!, 'wx')
  fsyncSync(fd)
  const directory = openSync(dirname(path!), 'r')
  fsyncSync(directory)
  closeSync(directory)
  const sink = new FileSink(fd, { path: path! })
  const writer = new LogWriter(sink)
  say('R0;')
  let next = 0
  await writeAndSync(
    prng(7),
    () => {
      writer.append(logEntry(next))
      return ++next
    },
    () => sink.sync(),
  )
}

async function runState(storage: 'aof' | 'file'): Promise<void> {
  const random = prng(Number(rest[0]))
  const store = await StateStore.open<CrashState, CrashUpdate>({
    path: path!,
    initial: CRASH_INITIAL,
    apply: crashApply,
    snapshotEvery: 0,
    sync: EARLY_ACK ? 'none' : 'always',
    appendOnlyFile: storage === 'aof',
  })
  say(`R${store.state.n};`)
  let next = store.state.n
  const update = (): Promise<void> => {
    const i = next++
    return store.update({ i, pad: 'x'.repeat(padSize(i)) }).then(() => say(`A${i + 1};`))
  }
  for (;;) {
    const choice = random()
    if (choice < 0.75) await update()
    else if (choice < 0.9) {
      const batch: Promise<void>[] = []
      const count = 1 + Math.floor(random() * 32)
      for (let k = 0; k < count; k++) batch.push(update())
      await Promise.all(batch)
    } else if (choice < 0.95) await store.snapshot()
    else await store.compact()
  }
}

if (mode === 'aof') await runAof()
else if (mode === 'log-aof') await runLogAof()
else if (mode === 'log-file') await runLogFile()
else if (mode === 'state-aof' || mode === 'state-file') await runState(mode === 'state-aof' ? 'aof' : 'file')
else {
  process.stderr.write(`unknown mode ${mode}\n`)
  process.exit(2)
}
