// Exactly-once into a StateStore: the store records the journal position it applied in the
// same durable write as the state change, and resumes after it. A consumer killed with SIGKILL
// at random instants, restarted until it is through, has applied every entry exactly once.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal, restore } from '../../src/index.ts'
import { prng, spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

test('a StateStore that stores the journal position with its state applies each entry exactly once across kill -9', { timeout: 120_000 }, async (t) => {
  const root = tmpDir(t)
  const dir = join(root, 'journal')
  const storePath = join(root, 'ledger.log')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  t.after(() => journal.close())
  const count = 400
  let expectedTotal = 0
  for (let position = 0; position < count; position++) {
    const amount = (position * 7919) % 1000
    expectedTotal += amount
    journal.append(Buffer.from(String(amount)))
  }
  await journal.sync()
  const seed = Date.now() % 100_000
  t.diagnostic(`seed ${seed}`)
  const random = prng(seed)
  let kills = 0
  for (let round = 0; ; round++) {
    assert.ok(round < 200, 'the consumer gets through')
    const child = spawnHelper('journal-apply-child.ts', [dir, storePath, String(count - 1)])
    if (round < 6) {
      // Kill it once it applies entries (or while it starts), a random moment later.
      if (random() < 0.8) await child.waitFor('applied').catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)))
      child.process.kill('SIGKILL')
      const ended = await child.exited
      if (ended.signal === 'SIGKILL') kills++
      continue
    }
    await child.waitFor('done')
    assert.equal((await child.exited).code, 0, child.stderr())
    break
  }
  assert.ok(kills > 0)
  const { state, updates } = restore(storePath)
  assert.ok(state !== null)
  let ledger = JSON.parse(Buffer.from(state).toString()) as { position: number; total: number; applied: number }
  for (const update of updates) {
    const { position, amount } = JSON.parse(Buffer.from(update).toString()) as { position: number; amount: number }
    ledger = { position, total: ledger.total + amount, applied: ledger.applied + 1 }
  }
  assert.deepEqual(ledger, { position: count - 1, total: expectedTotal, applied: count })
})
