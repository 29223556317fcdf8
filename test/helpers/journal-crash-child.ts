// A journal writer that does random work until it is killed: appends, batches, syncs, rolls
// (small segments), retention (few segments kept, held back by a consumer), consumer commits.
// argv: dir seed. It prints, each after the fact:
//   'ready N'        opened, next position N
//   'a N'            appended up to position N - 1 (nextPosition is N)
//   'B FIRST COUNT'  before a batch of COUNT entries at FIRST
//   's N'            sync() resolved: positions below N are durable
//   'c P'            the consumer's commit(P) resolved
import { Journal } from '../../src/index.ts'
import { prng } from './child.ts'
import { journalEntry } from './journal-entries.ts'

const [dir, seedText] = process.argv.slice(2) as [string, string]
const random = prng(Number(seedText))
const journal = await Journal.open(dir, { create: true, segmentBytes: 8192, retention: { maxSegments: 4 } })
const consumer = await Journal.openConsumer(dir, 'crash', { from: 'start' })
const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
out(`ready ${journal.nextPosition}`)
const pending: Array<Promise<void>> = []
for (;;) {
  const choice = random()
  if (choice < 0.6) {
    const position = journal.nextPosition
    journal.append(journalEntry(position))
    out(`a ${position + 1}`)
  } else if (choice < 0.75) {
    const first = journal.nextPosition
    const count = 2 + Math.floor(random() * 20)
    out(`B ${first} ${count}`)
    journal.appendBatch(Array.from({ length: count }, (_, k) => journalEntry(first + k)))
    out(`a ${first + count}`)
  } else if (choice < 0.85) {
    const upTo = journal.nextPosition
    pending.push(journal.sync().then(() => out(`s ${upTo}`)))
  } else if (choice < 0.95) {
    const last = journal.nextPosition - 1
    const target = Math.max(consumer.committed, last - Math.floor(random() * 50))
    if (target > consumer.committed) pending.push(consumer.commit(target).then(() => out(`c ${target}`)))
  } else {
    await Promise.all(pending.splice(0))
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (pending.length > 20) await Promise.all(pending.splice(0))
}
