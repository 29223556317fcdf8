import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal } from '../../src/index.ts'
import type { JournalConsumer, JournalEntry } from '../../src/index.ts'
import { aof } from '../cli/fixtures.ts'
import { spawnHelper } from '../helpers/child.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

async function filled(dir: string, count: number, segmentBytes = 4096): Promise<Journal> {
  const journal = await Journal.open(dir, { create: true, segmentBytes })
  for (let position = 0; position < count; position++) journal.append(journalEntry(position))
  return journal
}

/** Takes `count` entries from the consumer, committing each. */
async function consume(consumer: JournalConsumer, count: number, commit = true): Promise<JournalEntry[]> {
  const got: JournalEntry[] = []
  if (count === 0) return got
  for await (const entry of consumer) {
    assert.ok(isJournalEntry(entry.position, entry.data))
    got.push(entry)
    if (commit) await consumer.commit(entry.position)
    if (got.length === count) break
  }
  return got
}

test('a consumer resumes after its committed position: at-least-once, never skipping', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 100)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'billing', { from: 'start' })
  assert.equal(consumer.committed, -1)
  assert.equal(consumer.lag, 100)
  const first = await consume(consumer, 30)
  assert.deepEqual(
    first.map((entry) => entry.position),
    Array.from({ length: 30 }, (_, k) => k),
  )
  assert.equal(consumer.committed, 29)
  assert.equal(consumer.lag, 70)
  // Delivered but not committed: delivered again after a restart.
  await consume(consumer, 5, false)
  await consumer.close()
  const again = await Journal.openConsumer(dir, 'billing', { from: 'end' })
  t.after(() => again.close())
  assert.equal(again.committed, 29, '`from` only applies to a consumer without a position')
  const next = await consume(again, 10)
  assert.equal(next[0]!.position, 30)
  // Live: entries appended while the consumer waits.
  const live = consume(again, 5)
  for (let position = 100; position < 105; position++) journal.append(journalEntry(position))
  assert.equal((await live)[0]!.position, 40)
})

test('a consumer opened at the end records its start durably: a restart before the first commit starts there again', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 50)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'late', { from: 'end' })
  assert.equal(consumer.committed, 49)
  await consumer.close()
  journal.append(journalEntry(50))
  const again = await Journal.openConsumer(dir, 'late')
  t.after(() => again.close())
  assert.equal((await consume(again, 1))[0]!.position, 50)
})

test('commit: concurrent commits share writes, a lower one does nothing, past the end is refused', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 1000)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  await Promise.all(Array.from({ length: 200 }, (_, k) => consumer.commit(k * 3)))
  assert.equal(consumer.committed, 597)
  await consumer.commit(10)
  assert.equal(consumer.committed, 597)
  await assert.rejects(consumer.commit(1000), { code: ErrorCode.JournalOutOfRange })
  await assert.rejects(consumer.commit(1.5), { code: ErrorCode.InvalidArgument })
  await assert.rejects(consumer.commit('1' as unknown as number), { code: ErrorCode.InvalidArgument })
  const [info] = await Journal.consumers(dir)
  assert.equal(info?.committed, 597)
})

test('close() waits for every commit called before it, so no write follows the release of the lock', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 100)
  t.after(() => journal.close())
  for (const positions of [
    [5, 10],
    [5, 10, 20, 99],
    [3, 2, 50],
  ]) {
    await Journal.resetConsumer(dir, 'x', -1).catch(() => undefined)
    const consumer = await Journal.openConsumer(dir, 'x')
    const commits = positions.map((position) => consumer.commit(position))
    await consumer.close()
    const last = Math.max(...positions)
    assert.equal((await Journal.consumers(dir)).find((info) => info.name === 'x')?.committed, last)
    await Promise.all(commits)
    // The next instance owns the file: what it commits stays.
    const next = await Journal.openConsumer(dir, 'x')
    assert.equal(next.committed, last)
    await next.close()
  }
})

test('one live instance per name, across processes; a killed holder does not block', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 10)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'only')
  // The message says what is held, and where, once each.
  await assert.rejects(Journal.openConsumer(dir, 'only'), {
    code: ErrorCode.Locked,
    message: `consumer 'only' of journal '${dir}' is open already, in this process or another (its lock '${join(dir, 'consumers', 'only.lock')}' is held)`,
  })
  const other = await Journal.openConsumer(dir, 'other')
  await other.close()
  await consumer.close()
  const holder = spawnHelper('journal-child.ts', ['consume', dir, 'only'], { stdin: true })
  await holder.waitFor('open')
  await assert.rejects(Journal.openConsumer(dir, 'only'), { code: ErrorCode.Locked })
  holder.process.kill('SIGKILL')
  await holder.exited
  const after = await Journal.openConsumer(dir, 'only')
  await after.close()
})

test('Journal.consumers lists committed position, lag in entries and bytes, who is active; reset and delete', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 500)
  t.after(() => journal.close())
  const a = await Journal.openConsumer(dir, 'a')
  await a.commit(99)
  const b = await Journal.openConsumer(dir, 'b', { from: 'end' })
  await b.close()
  const list = await Journal.consumers(dir)
  assert.deepEqual(
    list.map(({ name, committed, lag, active }) => ({ name, committed, lag, active })),
    [
      { name: 'a', committed: 99, lag: 400, active: true },
      { name: 'b', committed: 499, lag: 0, active: false },
    ],
  )
  const [infoA, infoB] = list
  assert.equal(infoB!.lagBytes, 0)
  // The lag in bytes: what the entries after the commit take in the segments, framing included.
  let payload = 0
  for (const entry of journal.read({ from: 100 })) payload += entry.data.length
  assert.ok(infoA!.lagBytes >= payload && infoA!.lagBytes < payload * 1.2, `${infoA!.lagBytes} vs ${payload}`)
  await assert.rejects(Journal.resetConsumer(dir, 'a', 10), { code: ErrorCode.Locked })
  await a.close()
  await Journal.resetConsumer(dir, 'a', 10)
  assert.equal((await Journal.consumers(dir))[0]!.committed, 10)
  await assert.rejects(Journal.resetConsumer(dir, 'a', 500), { code: ErrorCode.JournalOutOfRange })
  await Journal.deleteConsumer(dir, 'b')
  assert.deepEqual(
    (await Journal.consumers(dir)).map((info) => info.name),
    ['a'],
  )
  await assert.rejects(Journal.deleteConsumer(dir, 'b'), { code: ErrorCode.NotFound })
})

test('consumer names must be safe file names; a damaged position file is reported', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 3)
  t.after(() => journal.close())
  for (const name of ['', '../x', 'a/b', '.hidden', '-x', 'x'.repeat(129), 'x.tmp', 5]) {
    await assert.rejects(Journal.openConsumer(dir, name as string), { code: ErrorCode.InvalidArgument }, String(name))
  }
  await assert.rejects(Journal.openConsumer(join(dir, 'consumers'), 'x'), { code: ErrorCode.NotAJournal })
  const consumer = await Journal.openConsumer(dir, 'x')
  await consumer.close()
  const path = join(dir, 'consumers', 'x.position')
  const bytes = readFileSync(path)
  bytes[9]! ^= 1
  writeFileSync(path, bytes)
  await assert.rejects(Journal.openConsumer(dir, 'x'), { code: ErrorCode.Corrupted })
})

test('Journal.consumers lists the others when one position file is damaged, and reports it; reset and delete repair it', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 300)
  t.after(() => journal.close())
  for (const name of ['flipped', 'good', 'short', 'folder', 'zeros']) {
    const consumer = await Journal.openConsumer(dir, name)
    await consumer.commit(99)
    await consumer.close()
  }
  const path = (name: string): string => join(dir, 'consumers', `${name}.position`)
  const flipped = readFileSync(path('flipped'))
  // Both slots (a torn one alone leaves the other).
  flipped[9]! ^= 1
  flipped[4096 + 9]! ^= 1
  writeFileSync(path('flipped'), flipped)
  writeFileSync(path('short'), readFileSync(path('short')).subarray(0, 20))
  writeFileSync(path('zeros'), new Uint8Array(32))
  rmSync(path('folder'))
  mkdirSync(path('folder'))
  const list = await Journal.consumers(dir)
  assert.deepEqual(
    list.map(({ name, committed, lag, error }) => ({ name, committed, lag, code: error?.code ?? null })),
    [
      { name: 'flipped', committed: -1, lag: 300, code: ErrorCode.Corrupted },
      { name: 'folder', committed: -1, lag: 300, code: ErrorCode.IsDirectory },
      { name: 'good', committed: 99, lag: 200, code: null },
      { name: 'short', committed: -1, lag: 300, code: ErrorCode.Corrupted },
      { name: 'zeros', committed: -1, lag: 300, code: ErrorCode.Corrupted },
    ],
  )
  assert.match(list[0]!.error!.message, /flipped\.position/)

  const cli = await aof(['consumers', dir])
  assert.equal(cli.status, 1, cli.stderr)
  assert.match(cli.stdout, /\ngood\s+99\s+200\s/)
  assert.match(cli.stdout, /\ndamaged: consumer flipped: ERR_AOF_CORRUPTED: /)
  const json = JSON.parse((await aof(['consumers', '--json', dir])).stdout) as { consumers: { name: string; error: { code: string } | null }[] }
  assert.deepEqual(
    json.consumers.map(({ name, error }) => [name, error?.code ?? null]),
    list.map(({ name, error }) => [name, error?.code ?? null]),
  )
  const verify = await aof(['verify', dir])
  assert.equal(verify.status, 1)
  assert.match(verify.stdout, /damaged: consumer short: ERR_AOF_CORRUPTED/)

  // A reset writes a good position file over a damaged one; a delete removes it.
  await Journal.resetConsumer(dir, 'flipped', 149)
  await Journal.resetConsumer(dir, 'zeros', -1)
  await Journal.deleteConsumer(dir, 'short')
  // Not a file: refused with its code, never removed as a folder.
  const folder = await aof(['consumers', dir, '--delete', 'folder'])
  assert.notEqual(folder.status, 0)
  assert.match(folder.stderr, /^aof: ERR_AOF_IS_DIRECTORY: /)
  rmdirSync(path('folder'))
  assert.deepEqual(
    (await Journal.consumers(dir)).map(({ name, committed, error }) => [name, committed, error]),
    [
      ['flipped', 149, null],
      ['good', 99, null],
      ['zeros', -1, null],
    ],
  )
  const resumed = await Journal.openConsumer(dir, 'flipped')
  t.after(() => resumed.close())
  assert.equal((await consume(resumed, 1))[0]!.position, 150)
})
