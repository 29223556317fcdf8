// Applies a journal's entries to a state exactly once through Journal.openStateConsumer: each
// entry's state change carries its position in one durable write of the state log, and a
// restart resumes after it.
// argv: dir storePath last. Prints 'applied P' after each durable update, 'done' at position `last`.
import { Journal } from '../../src/index.ts'

interface Ledger {
  total: number
  applied: number
  /** Positions applied, in order (a repeat or a gap shows here). */
  positions: number[]
}

const [dir, path, lastText] = process.argv.slice(2) as [string, string, string]
const last = Number(lastText)
const ledger = await Journal.openStateConsumer<Ledger>(dir, 'ledger', {
  path,
  initial: { total: 0, applied: 0, positions: [] },
  apply: (state, entry) => {
    state.total += Number(Buffer.from(entry.data).toString())
    state.applied++
    state.positions.push(entry.position)
    return state
  },
  snapshotEvery: 50,
})
if (ledger.position < last) {
  for await (const { position } of ledger) {
    process.stdout.write(`applied ${position}\n`)
    if (position >= last) break
  }
}
await ledger.close()
process.stdout.write('done\n')
