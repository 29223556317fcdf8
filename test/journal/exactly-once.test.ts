// Exactly-once into a state: Journal.openStateConsumer keeps the journal position it applied in
// the same durable write of its state log as the state change, and resumes after it.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal } from '../../src/index.ts'
import type { JournalEntry, StateConsumer } from '../../src/index.ts'
import { prng, spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

interface Sum {
  total: number
  positions: number[]
}

const sum = (state: Sum, entry: JournalEntry): Sum => ({ total: state.total + Number(Buffer.from(entry.data).toString()), positions: [...state.positions, entry.position] })

async function filledJournal(dir: string, count: number): Promise<{ journal: Journal; total: number }> {
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  let total = 0
  for (let position = 0; position < count; position++) {
    const amount = (position * 7919) % 1000
    total += amount
    journal.append(Buffer.from(String(amount)))
  }
  await journal.sync()
  return { journal, total }
}

function open(dir: string, path: string, extra: { from?: 'start' | 'end' | number } = {}): Promise<StateConsumer<Sum>> {
  return Journal.openStateConsumer<Sum>(dir, 'sum', { path, initial: { total: 0, positions: [] }, apply: sum, snapshotEvery: 7, ...extra })
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)

test('a state consumer resumes after the position its state holds, not after its committed position', async (t) => {
  const root = tmpDir(t)
  const dir = join(root, 'journal')
  const path = join(root, 'sum.state')
  const { journal } = await filledJournal(dir, 30)
  t.after(() => journal.close())
  const first = await open(dir, path)
  assert.equal(first.position, -1)
  assert.equal(first.lag, 30)
  assert.equal(await first.applyAvailable(), 30)
  assert.deepEqual(first.state.positions, range(0, 30))
  assert.equal(first.position, 29)
  assert.equal(first.lag, 0)
  await first.close()
  // It is a durable consumer: listed, holding retention back.
  assert.deepEqual(
    (await Journal.consumers(dir)).map(({ name, committed }) => [name, committed]),
    [['sum', 29]],
  )
  // Its committed position behind its state (a crash between the two writes): nothing again.
  await Journal.resetConsumer(dir, 'sum', 9)
  for (let position = 30; position < 40; position++) journal.append(Buffer.from('1'))
  const second = await open(dir, path)
  assert.equal(second.position, 29)
  assert.equal(second.lag, 10)
  assert.equal(await second.applyAvailable(), 10)
  assert.deepEqual(second.state.positions, range(0, 40))
  await second.close()
  // Its committed position ahead of its state (a state log restored from a copy): the state
  // decides, so nothing is skipped.
  await Journal.resetConsumer(dir, 'sum', 39)
  const copy = join(root, 'copy.state')
  const fresh = await open(dir, copy)
  assert.equal(fresh.position, -1)
  assert.equal(await fresh.applyAvailable(), 40)
  assert.deepEqual(fresh.state.positions, range(0, 40))
  await fresh.close()
})

test('a state consumer follows live, yields each entry once it is durable, and is one instance per name', async (t) => {
  const root = tmpDir(t)
  const dir = join(root, 'journal')
  const path = join(root, 'sum.state')
  const { journal } = await filledJournal(dir, 5)
  t.after(() => journal.close())
  const consumer = await open(dir, path, { from: 2 })
  t.after(() => consumer.close())
  await assert.rejects(open(dir, join(root, 'other.state')), { code: ErrorCode.Locked })
  const seen: number[] = []
  for await (const { position, state } of consumer) {
    seen.push(position)
    assert.equal(state.positions.at(-1), position)
    if (position === 4) journal.append(Buffer.from('100'))
    if (position === 5) break
  }
  assert.deepEqual(seen, [2, 3, 4, 5])
  await consumer.close()
  const again = await open(dir, path)
  t.after(() => again.close())
  assert.deepEqual(again.state.positions, [2, 3, 4, 5])
  assert.equal(again.state.total, 838 + 757 + 676 + 100)
  assert.ok(existsSync(path))
})

test('a state consumer applies every entry exactly once across kill -9', { timeout: 120_000 }, async (t) => {
  const root = tmpDir(t)
  const dir = join(root, 'journal')
  const storePath = join(root, 'ledger.state')
  const count = 400
  const { journal, total } = await filledJournal(dir, count)
  t.after(() => journal.close())
  const seed = Date.now() % 100_000
  t.diagnostic(`seed ${seed}`)
  const random = prng(seed)
  let kills = 0
  for (let round = 0; ; round++) {
    assert.ok(round < 200, 'the consumer gets through')
    const child = spawnHelper('journal-apply-child.ts', [dir, storePath, String(count - 1)])
    if (round < 8) {
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
  const ledger = await Journal.openStateConsumer<{ total: number; applied: number; positions: number[] }>(dir, 'ledger', {
    path: storePath,
    initial: { total: 0, applied: 0, positions: [] },
    apply: (state, entry) => {
      state.total += Number(Buffer.from(entry.data).toString())
      state.applied++
      state.positions.push(entry.position)
      return state
    },
  })
  assert.equal(await ledger.applyAvailable(), 0)
  t.after(() => ledger.close())
  assert.deepEqual(ledger.state.positions, range(0, count))
  assert.deepEqual({ total: ledger.state.total, applied: ledger.state.applied, position: ledger.position }, { total, applied: count, position: count - 1 })
})
