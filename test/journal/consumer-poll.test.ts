// A consumer's batch read, poll(): as many entries as are available up to `max`, each call
// after the entries the previous returned, the first after the committed position; at the end
// it waits for the next entry (at most `waitMs`); options are checked. And the consumer's async
// iterator, which reads a batch at a time, delivers the same entries.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal } from '../../src/index.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

async function filled(dir: string, count: number, segmentBytes = 4096): Promise<Journal> {
  const journal = await Journal.open(dir, { create: true, segmentBytes })
  for (let position = 0; position < count; position++) journal.append(journalEntry(position))
  return journal
}

const positions = (entries: readonly { position: number }[]): number[] => entries.map(({ position }) => position)
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)

test('poll() returns the available entries up to max, each call after the last, across segments', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  // Small segments: a batch spans several.
  const journal = await filled(dir, 250, 4096)
  t.after(() => journal.close())
  assert.ok(journal.segmentCount > 3)
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  const first = await consumer.poll({ max: 100 })
  assert.deepEqual(positions(first), range(0, 100))
  for (const entry of first) assert.ok(isJournalEntry(entry.position, entry.data))
  assert.deepEqual(positions(await consumer.poll({ max: 120 })), range(100, 220))
  // Fewer than max available: what there is, without waiting for more.
  assert.deepEqual(positions(await consumer.poll()), range(220, 250))
  assert.deepEqual(await consumer.poll({ waitMs: 0 }), [])
  assert.deepEqual(await consumer.poll({ waitMs: 5 }), [])
  // Polling does not commit.
  assert.equal(consumer.committed, -1)
  journal.append(journalEntry(250))
  assert.deepEqual(positions(await consumer.poll({ waitMs: 0 })), [250])
})

test('poll() at the end waits for the next entry and takes what came with it; a signal ends the wait', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 10, 4096)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  assert.equal((await consumer.poll()).length, 10)
  const waiting = consumer.poll()
  // Appended after the wait began, across a roll (entries of 4 KiB, 4 KiB segments).
  setImmediate(() => {
    journal.appendBatch(range(10, 13).map((position) => journalEntry(position)))
  })
  assert.deepEqual(positions(await waiting), range(10, 13))
  const controller = new AbortController()
  const aborted = consumer.poll({ signal: controller.signal })
  setImmediate(() => controller.abort())
  await assert.rejects(aborted, { name: 'AbortError' })
  // Nothing was lost to the aborted wait.
  journal.append(journalEntry(13))
  assert.deepEqual(positions(await consumer.poll()), [13])
})

test('poll() starts after the committed position; uncommitted entries come again after a restart', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 50)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  const batch = await consumer.poll({ max: 20 })
  await consumer.commit(batch.at(-1)!.position)
  assert.deepEqual(positions(await consumer.poll({ max: 10 })), range(20, 30))
  await consumer.close()
  await assert.rejects(consumer.poll(), { code: ErrorCode.Closed })
  const again = await Journal.openConsumer(dir, 'c')
  t.after(() => again.close())
  assert.deepEqual(positions(await again.poll({ max: 10 })), range(20, 30))
  // Calls overlapping run one after another, each after the one before.
  const [a, b] = await Promise.all([again.poll({ max: 5 }), again.poll({ max: 5 })])
  assert.deepEqual([...positions(a), ...positions(b)], range(30, 40))
})

test('poll() checks its options', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 5)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  for (const options of [{ max: 0 }, { max: 1.5 }, { max: 1_000_001 }, { max: '10' }, { waitMs: -1 }, { waitMs: 'soon' }, { signal: {} }, 'x']) {
    await assert.rejects(consumer.poll(options as never), { code: ErrorCode.InvalidArgument }, JSON.stringify(options))
  }
  assert.equal((await consumer.poll({ waitMs: Infinity })).length, 5)
})

test('the async iterator delivers every entry once, in order, across segments and live appends', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 2500, 8192)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  let expected = 0
  for await (const entry of consumer) {
    assert.equal(entry.position, expected)
    assert.ok(isJournalEntry(entry.position, entry.data))
    expected++
    if (expected === 2500) setImmediate(() => journal.append(journalEntry(2500)))
    if (expected === 2501) break
  }
  await consumer.commit(2000)
  // A new iteration starts after the commit.
  for await (const entry of consumer) {
    assert.equal(entry.position, 2001)
    break
  }
})

test('entries handed out stay as they were while reading goes on (live appends, many chunks, across segments)', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 1024 * 1024 })
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  const kept: { position: number; data: Uint8Array }[] = []
  let appended = 0
  // Appends in small steps, each read before the next: the reader's buffers are read further
  // while entries from them are held, and new ones are taken as it goes.
  while (appended < 12_000) {
    const step = 1 + (appended % 97)
    for (let k = 0; k < step; k++) journal.append(journalEntry(appended++))
    for (;;) {
      const batch = await consumer.poll({ waitMs: 0 })
      if (batch.length === 0) break
      kept.push(...batch)
    }
  }
  assert.ok(journal.segmentCount > 1)
  assert.deepEqual(positions(kept), range(0, appended))
  for (const entry of kept) assert.ok(isJournalEntry(entry.position, entry.data), `entry ${entry.position} changed`)
})

test('a wait ends when the consumer is closed; with the writer gone it goes on once a new writer appends', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  let journal = await filled(dir, 3)
  const consumer = await Journal.openConsumer(dir, 'c')
  assert.equal((await consumer.poll()).length, 3)
  // The writer closes while poll() waits at the end of its segment; a new one appends later.
  const waiting = consumer.poll()
  await new Promise((resolve) => setImmediate(resolve))
  await journal.close()
  journal = await Journal.open(dir)
  t.after(() => journal.close())
  journal.append(journalEntry(3))
  assert.deepEqual(positions(await waiting), [3])
  // Closed while a poll and an iteration wait: the poll resolves empty, the iteration ends.
  const pending = consumer.poll()
  const iteration = (async () => {
    const got: number[] = []
    for await (const entry of consumer) got.push(entry.position)
    return got
  })()
  await new Promise((resolve) => setImmediate(resolve))
  await consumer.close()
  assert.deepEqual(await pending, [])
  assert.deepEqual(await iteration, [0, 1, 2, 3])
})
