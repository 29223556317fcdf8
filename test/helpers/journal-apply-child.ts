// Applies a journal's entries to a StateStore exactly once, by storing the journal position in
// the state itself ("store the position with the output"): each update carries the entry's
// position and amount, made durable together; a restart resumes after the stored position.
// argv: dir storePath last. Prints 'applied P' after each durable update, 'done' at position `last`.
import { Journal, StateStore } from '../../src/index.ts'

interface Ledger {
  position: number
  total: number
  applied: number
}
interface Update {
  position: number
  amount: number
}

const [dir, path, lastText] = process.argv.slice(2) as [string, string, string]
const last = Number(lastText)
const store = await StateStore.open<Ledger, Update>({
  path,
  initial: { position: -1, total: 0, applied: 0 },
  apply: (state, update) => ({ position: update.position, total: state.total + update.amount, applied: state.applied + 1 }),
  snapshotEvery: 50,
})
if (store.state.position >= last) {
  process.stdout.write('done\n')
  process.exit(0)
}
const reader = await Journal.openReader(dir)
for await (const { position, data } of reader.follow({ from: store.state.position + 1 })) {
  await store.update({ position, amount: Number(Buffer.from(data).toString()) })
  process.stdout.write(`applied ${position}\n`)
  if (position >= last) break
}
reader.close()
await store.close()
process.stdout.write('done\n')
