// A journal child process for tests. argv: mode dir ...
//   hold DIR                      opens the writer, prints 'open', waits until killed or stdin ends
//   write DIR FROM COUNT SEGBYTES appends entries FROM..FROM+COUNT-1 (journalEntry), syncs,
//                                 prints 'wrote N', closes, prints 'closed'
//   follow DIR FROM COUNT         follows from FROM with Journal.openReader until COUNT entries
//                                 were checked, prints 'ready' first and 'followed N' at the end
import { Journal } from '../../src/index.ts'
import { isJournalEntry, journalEntry } from './journal-entries.ts'

const [mode, dir, ...rest] = process.argv.slice(2) as [string, string, ...string[]]

if (mode === 'hold') {
  try {
    const journal = await Journal.open(dir)
    process.stdout.write('open\n')
    process.stdin.resume()
    process.stdin.on('end', () => {
      void journal.close().then(() => process.exit(0))
    })
  } catch (error) {
    process.stdout.write(`error ${(error as { code?: string }).code}\n`)
  }
} else if (mode === 'write') {
  const [from, count, segmentBytes] = rest.map(Number) as [number, number, number]
  const journal = await Journal.open(dir, { create: true, segmentBytes })
  for (let position = from; position < from + count; position++) {
    const got = journal.append(journalEntry(position))
    if (got !== position) throw new Error(`appended at ${got}, expected ${position}`)
  }
  await journal.sync()
  process.stdout.write(`wrote ${count}\n`)
  await journal.close()
  process.stdout.write('closed\n')
} else if (mode === 'follow') {
  const [from, count] = rest.map(Number) as [number, number]
  const reader = await Journal.openReader(dir)
  process.stdout.write('ready\n')
  let checked = 0
  let expected = from
  for await (const entry of reader.follow({ from })) {
    if (entry.position !== expected || !isJournalEntry(entry.position, entry.data)) {
      process.stdout.write(`bad ${entry.position} expected ${expected}\n`)
      process.exit(1)
    }
    expected++
    checked++
    if (checked === count) break
  }
  reader.close()
  process.stdout.write(`followed ${checked}\n`)
}
