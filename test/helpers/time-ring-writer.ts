/**
 * A journal writer for the time ring's adversarial tests, in a process of its own.
 *
 *   node --import tsx test/helpers/time-ring-writer.ts <dir> <count> <options JSON>
 *
 * Opens (creating) the journal in `dir` with `options.journal` and appends `count` entries
 * (journalEntry), each in a millisecond of its own, so that each gets a time record. Around
 * each append it reads the clock, and writes `E<position>,<before>,<after>;` to stdout: the
 * entry's time must lie between the two. Options:
 * - `journal`: options of Journal.open (create is added);
 * - `kill`: `{ write, when }`: SIGKILL itself at the `write`-th write to a time index file
 *   (found through node:fs, replaced before the library is loaded, not through the library):
 *   `before` it, `after` it, or `torn` (the first 8 bytes written, then the kill);
 * - `syncEvery`: after every that many appends, await sync() and write `S<next>;` (every entry
 *   before `next` is durable then);
 * - `paceMs`: wait that long on a timer (the event loop turns) every 10 appends;
 * - `resume`: after `D;`, wait for a line on stdin (the event loop turns meanwhile), await
 *   sync(), append that many more entries the same way and write `M;`.
 * After the last append it writes `D;` (and with `resume`, later `M;`) and, unless `exit` is set,
 * spins without returning to the event loop until it is killed (nothing it left for later
 * runs). With `exit` it closes the journal and exits.
 */
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'

const [dir, countText, optionsText] = process.argv.slice(2) as [string, string, string | undefined]
const options = JSON.parse(optionsText ?? '{}') as {
  journal?: Record<string, unknown>
  kill?: { write: number; when: 'before' | 'after' | 'torn' }
  syncEvery?: number
  paceMs?: number
  resume?: number
  exit?: boolean
}
const say = (text: string): void => {
  fs.writeSync(1, text)
}

if (options.kill !== undefined) {
  const { write: target, when } = options.kill
  let writes = 0
  const writeSync = fs.writeSync
  const isTimeIndex = (fd: number): boolean => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.timeindex')
    } catch {
      return false
    }
  }
  const die = (): never => {
    say('K;')
    process.kill(process.pid, 'SIGKILL')
    throw new Error('still alive after SIGKILL')
  }
  fs.writeSync = ((fd: number, buffer: Uint8Array, ...rest: unknown[]): number => {
    if (typeof fd === 'number' && fd > 2 && isTimeIndex(fd) && ++writes === target) {
      if (when === 'before') die()
      if (when === 'torn') {
        const offset = typeof rest[0] === 'number' ? rest[0] : 0
        writeSync(fd, buffer, offset, 8)
        die()
      }
      const written = (writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest)
      die()
      return written
    }
    return (writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest)
  }) as typeof fs.writeSync
  syncBuiltinESMExports()
}

const { Journal } = await import('../../src/index.ts')
const { journalEntry } = await import('./journal-entries.ts')

const journal = await Journal.open(dir, { ...options.journal, create: true })
say('R;')

async function appendEntries(count: number): Promise<void> {
  for (let position = journal.nextPosition, k = 0; k < count; position++, k++) {
    const start = Date.now()
    while (Date.now() === start) {
      // A new millisecond for each entry.
    }
    const before = Date.now()
    const at = journal.append(journalEntry(position))
    const after = Date.now()
    if (at !== position) throw new Error(`appended at ${at}, expected ${position}`)
    say(`E${position},${before},${after};`)
    if (options.syncEvery !== undefined && (k + 1) % options.syncEvery === 0) {
      await journal.sync()
      say(`S${position + 1};`)
    }
    if (options.paceMs !== undefined && k % 10 === 9) await new Promise((resolve) => setTimeout(resolve, options.paceMs))
  }
}

await appendEntries(Number(countText))
say('D;')
if (options.resume !== undefined) {
  await new Promise((resolve) => process.stdin.once('data', resolve))
  process.stdin.pause()
  await journal.sync()
  await appendEntries(options.resume)
  say('M;')
}
if (options.exit === true) {
  await journal.close()
  process.exit(0)
}
for (;;) {
  // Until killed: no timer of the journal gets to run.
}
