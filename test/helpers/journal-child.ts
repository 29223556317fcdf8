// A journal child process for tests. argv: mode dir ...
//   hold DIR                      opens the writer, prints 'open', waits until killed or stdin ends
//   write DIR FROM COUNT SEGBYTES appends entries FROM..FROM+COUNT-1 (journalEntry), syncs,
//                                 prints 'wrote N', closes, prints 'closed'
//   follow DIR FROM COUNT         follows from FROM with Journal.openReader until COUNT entries
//                                 were checked, prints 'ready' first and 'followed N' at the end
//   consume DIR NAME              opens consumer NAME, prints 'open', waits
//   skim DIR TOTAL                follows from 0 slowly, skipping deleted entries
//   return DIR                    follows from the end and, while the next() waits, calls
//                                 return(): prints 'returned <its done> <the waiting next()'s done>'
//                                 and ends without closing the reader (the process must exit)
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
} else if (mode === 'consume') {
  const consumer = await Journal.openConsumer(dir, rest[0]!)
  process.stdout.write('open\n')
  process.stdin.resume()
  process.stdin.on('end', () => {
    void consumer.close().then(() => process.exit(0))
  })
} else if (mode === 'skim') {
  // Follows from the start, slowly, skipping what retention deletes under it, until TOTAL
  // positions are accounted for; prints 'skimmed GOT lost LOST'.
  const total = Number(rest[0])
  const reader = await Journal.openReader(dir)
  process.stdout.write('ready\n')
  let got = 0
  let lost = 0
  let expected = 0
  const onTruncated = (gap: { from: number; to: number; lost: number }): void => {
    if (gap.from !== expected) process.exit(2)
    lost += gap.lost
    expected = gap.to
  }
  for await (const entry of reader.follow({ from: 0, onTruncated })) {
    if (entry.position !== expected || !isJournalEntry(entry.position, entry.data)) process.exit(1)
    expected = entry.position + 1
    got++
    if (got % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    if (got + lost >= total) break
  }
  reader.close()
  process.stdout.write(`skimmed ${got} lost ${lost}\n`)
} else if (mode === 'return') {
  const reader = await Journal.openReader(dir)
  const entries = reader.follow({ from: 'end' })
  const waiting = entries.next()
  const returned = await entries.return()
  const next = await waiting
  process.stdout.write(`returned ${String(returned.done)} ${String(next.done)}\n`)
}
