import assert from 'node:assert/strict'
import { readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { AppendOnlyFile, AppendOnlyFileSink, Journal, LogWriter, sidecarPath } from '../../src/index.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** The segments' first positions in `dir`. */
function bases(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .map((name) => Number(name.slice(0, 20)))
}

/** Replaces the segment at `base` by an unfinished one holding its first `keep` entries, as a power loss leaves it. */
async function loseTail(dir: string, base: number, keep: number): Promise<void> {
  const path = join(dir, `${String(base).padStart(20, '0')}.log`)
  rmSync(path)
  rmSync(sidecarPath(path), { force: true })
  const file = AppendOnlyFile.open(path, { create: true })
  const writer = new LogWriter(new AppendOnlyFileSink(file))
  for (let position = base; position < base + keep; position++) writer.append(journalEntry(position))
  await file.close()
}

test('a segment before the last that a power loss left unfinished and short cuts the journal there: later segments go, positions stay dense', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < 400; position++) journal.append(journalEntry(position))
  await journal.close()
  const before = bases(dir)
  assert.ok(before.length > 5)
  const cutBase = before[2]!
  await loseTail(dir, cutBase, 3)

  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.equal(reopened.nextPosition, cutBase + 3)
  assert.deepEqual(bases(dir), before.slice(0, 3))
  let expected = 0
  for (const entry of reopened.read()) {
    assert.equal(entry.position, expected++)
    assert.ok(isJournalEntry(entry.position, entry.data))
  }
  assert.equal(expected, cutBase + 3)
  assert.equal(reopened.append(journalEntry(cutBase + 3)), cutBase + 3)
})

test('a segment before the last left unfinished but whole (a crash mid-roll) is finished, nothing cut', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < 400; position++) journal.append(journalEntry(position))
  await journal.close()
  const before = bases(dir)
  const base = before[1]!
  await loseTail(dir, base, before[2]! - base)
  const path = join(dir, `${String(base).padStart(20, '0')}.log`)
  assert.notEqual(statSync(path).mode & 0o222, 0)
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.equal(reopened.nextPosition, 400)
  assert.deepEqual(bases(dir), before)
  assert.equal(statSync(path).mode & 0o222, 0, 'finished: read-only')
  assert.equal([...reopened.read()].length, 400)
})

test('a consumer that committed entries a power loss took gets the new entries at those positions, not an error', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < 400; position++) journal.append(journalEntry(position))
  const consumer = await Journal.openConsumer(dir, 'seen')
  await consumer.commit(300)
  await consumer.close()
  await journal.close()
  const cutBase = bases(dir)[2]!
  await loseTail(dir, cutBase, 3)
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.equal(reopened.nextPosition, cutBase + 3)
  const again = await Journal.openConsumer(dir, 'seen')
  t.after(() => again.close())
  assert.equal(again.committed, 300, 'a committed position never goes back')
  const next = (async () => {
    for await (const entry of again) return entry.position
    return -1
  })()
  reopened.append(journalEntry(cutBase + 3))
  assert.equal(await next, cutBase + 3)
})
