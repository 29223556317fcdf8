// A journal writer for the time ring's tests. argv: DIR COUNT [PAUSE_AT]
// Opens (creating) the journal in DIR and appends COUNT entries (journalEntry), each in a
// millisecond of its own, so that each gets a time record. With PAUSE_AT, it prints 'paused'
// after that many and waits for a line on stdin before the rest. It prints 'appended' and then
// spins without returning to the event loop until it is killed: nothing it left for later (the
// time index file's deferred write) runs.
import { writeSync } from 'node:fs'
import { createInterface } from 'node:readline'

import { Journal } from '../../src/index.ts'
import { journalEntry } from './journal-entries.ts'

const [dir, countText, pauseText] = process.argv.slice(2) as [string, string, string | undefined]
const count = Number(countText)
const pauseAt = pauseText === undefined ? count : Number(pauseText)
const journal = await Journal.open(dir, { create: true })

function appendFrom(from: number, to: number): void {
  for (let position = from; position < to; position++) {
    const before = Date.now()
    while (Date.now() === before) {
      // A new millisecond for each entry.
    }
    journal.append(journalEntry(position))
  }
}

appendFrom(0, pauseAt)
if (pauseAt < count) {
  process.stdout.write('paused\n')
  const lines = createInterface({ input: process.stdin })
  await new Promise<void>((resolve) => lines.once('line', () => resolve()))
  lines.close()
  appendFrom(pauseAt, count)
}
writeSync(1, 'appended\n')
for (;;) {
  // Until killed: no timer of the journal gets to run.
}
