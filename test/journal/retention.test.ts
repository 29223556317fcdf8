import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal, JournalTruncatedError } from '../../src/index.ts'
import type { TruncatedGap } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Polls `condition` until it holds or the deadline passes. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.log'))
}

test('retention by maxSegments and maxBytes deletes whole oldest segments; positions are never renumbered', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096, retention: { maxSegments: 3 } })
  for (let position = 0; position < 2000; position++) journal.append(journalEntry(position))
  await until(() => journal.segmentCount <= 3, 'three segments left')
  assert.ok(journal.firstPosition > 0)
  assert.equal(segmentFiles(dir).length, journal.segmentCount)
  assert.ok(readdirSync(dir).every((name) => !name.startsWith(`${'0'.repeat(20)}.`)), 'every file of a deleted segment is gone')
  let expected = journal.firstPosition
  for (const entry of journal.read()) {
    assert.equal(entry.position, expected++)
    assert.ok(isJournalEntry(entry.position, entry.data))
  }
  assert.equal(journal.retention.deletedEntries, journal.firstPosition)
  await journal.close()

  const bytesDir = join(tmpDir(t), 'bytes')
  const bySize = await Journal.open(bytesDir, { create: true, segmentBytes: 4096, retention: { maxBytes: 20_000 } })
  t.after(() => bySize.close())
  for (let position = 0; position < 2000; position++) bySize.append(journalEntry(position))
  await until(() => bySize.segmentCount <= 6, 'at most 20 000 bytes of segments')
  assert.ok(bySize.firstPosition > 0)
  assert.ok(bySize.segmentCount >= 3, 'no more than needed is deleted')
})

test('retention by age deletes an idle segment: segmentMs rolls it, maxAgeMs deletes it', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentMs: 40, retention: { maxAgeMs: 80 } })
  t.after(() => journal.close())
  for (let position = 0; position < 10; position++) journal.append(journalEntry(position))
  await until(() => journal.firstPosition === 10, 'the idle segment rolled and deleted')
  assert.equal(journal.nextPosition, 10)
  assert.equal([...journal.read()].length, 0)
  assert.equal(journal.append(journalEntry(10)), 10)
})

test('retention by age alone reaches an idle journal: segmentMs defaults to the age limit', async (t) => {
  for (const retention of [{ maxAgeMs: 60 }, { hardMaxAgeMs: 60 }, { maxAgeMs: 5000, hardMaxAgeMs: 60 }]) {
    const dir = join(tmpDir(t), 'journal')
    const journal = await Journal.open(dir, { create: true, retention })
    t.after(() => journal.close())
    for (let position = 0; position < 10; position++) journal.append(journalEntry(position))
    await until(() => journal.firstPosition === 10, `the idle segment rolled and deleted with ${JSON.stringify(retention)}`)
    assert.equal(journal.nextPosition, 10)
    assert.equal([...journal.read()].length, 0)
    await journal.close()
  }
  // No age limit: no roll by age.
  const dir = join(tmpDir(t), 'kept')
  const journal = await Journal.open(dir, { create: true, retention: { maxSegments: 1 } })
  t.after(() => journal.close())
  journal.append(journalEntry(0))
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(journal.segmentCount, 1)
  assert.equal([...journal.read()].length, 1)
})

test('a consumer that has not committed holds retention back, and is reported; a hard limit overrides it', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096, retention: { maxSegments: 2 } })
  t.after(() => journal.close())
  const slow = await Journal.openConsumer(dir, 'slow')
  t.after(() => slow.close())
  for (let position = 0; position < 20; position++) journal.append(journalEntry(position))
  await slow.commit(9)
  for (let position = 20; position < 1000; position++) journal.append(journalEntry(position))
  await until(() => journal.retention.heldBy.length > 0, 'retention held back')
  assert.deepEqual(journal.retention.heldBy, [{ name: 'slow', committed: 9 }])
  assert.equal(journal.firstPosition, 0, 'the segment holding position 10 stays')
  const [info] = await Journal.consumers(dir)
  assert.equal(info?.holdsRetention, true)
  // Committed to the end: the next rolls delete up to the consumer's segment.
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < 50; k++) journal.append(journalEntry(journal.nextPosition))
    await slow.commit(journal.nextPosition - 1)
  }
  // Retention runs at the next roll.
  const segments = journal.segmentCount
  while (journal.segmentCount === segments) journal.append(journalEntry(journal.nextPosition))
  await until(() => journal.segmentCount <= 2 && journal.retention.heldBy.length === 0, 'retention goes on')
  assert.equal((await Journal.consumers(dir))[0]?.holdsRetention, false)
  await slow.close()

  const hardDir = join(tmpDir(t), 'hard')
  const hard = await Journal.open(hardDir, { create: true, segmentBytes: 4096, retention: { maxSegments: 2, hardMaxBytes: 30_000 } })
  t.after(() => hard.close())
  const stuck = await Journal.openConsumer(hardDir, 'stuck')
  for (let position = 0; position < 2000; position++) hard.append(journalEntry(position))
  await until(() => hard.firstPosition > 0, 'the hard limit deletes')
  assert.ok(hard.segmentCount > 2, 'only down to the hard limit')
  // The consumer's next entry is gone: ERR_JOURNAL_TRUNCATED with the first position kept.
  const iterator = stuck[Symbol.asyncIterator]()
  await assert.rejects(iterator.next(), (error: unknown) => {
    assert.ok(error instanceof JournalTruncatedError)
    assert.equal(error.code, ErrorCode.JournalTruncated)
    assert.equal(error.position, 0)
    assert.equal(error.firstPosition, hard.firstPosition)
    return true
  })
  await stuck.close()
  // Asked to skip: told how many entries were lost.
  const gaps: TruncatedGap[] = []
  const skipping = await Journal.openConsumer(hardDir, 'stuck', { onTruncated: (gap) => gaps.push(gap) })
  for await (const entry of skipping) {
    assert.equal(entry.position, gaps[0]!.to)
    break
  }
  assert.deepEqual(gaps, [{ from: 0, to: gaps[0]!.to, lost: gaps[0]!.to }])
  await skipping.close()
  assert.throws(() => [...hard.read({ from: 0 })], { code: ErrorCode.JournalTruncated })
})

test('a consumer that commits past the held segment no longer holds retention, before the writer runs it again', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096, retention: { maxSegments: 2 } })
  t.after(() => journal.close())
  const slow = await Journal.openConsumer(dir, 'slow')
  t.after(() => slow.close())
  while (journal.segmentCount < 4) journal.append(journalEntry(journal.nextPosition))
  await until(() => journal.retention.heldBy.length > 0, 'retention held back')
  assert.deepEqual(journal.retention.heldBy, [{ name: 'slow', committed: -1 }])
  const other = await Journal.openConsumer(dir, 'other', { from: 'end' })
  t.after(() => other.close())
  const held = await Journal.consumers(dir)
  assert.deepEqual(
    held.map(({ name, holdsRetention }) => [name, holdsRetention]),
    [
      ['other', false],
      ['slow', true],
    ],
  )
  // No append, no roll: the writer does not run retention again, yet the listing is current.
  await slow.commit(journal.nextPosition - 1)
  assert.deepEqual(
    (await Journal.consumers(dir)).map(({ name, holdsRetention }) => [name, holdsRetention]),
    [
      ['other', false],
      ['slow', false],
    ],
  )
})

test('a reader in another process whose segments are deleted under it skips ahead (told what it lost) and never crashes', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096, retention: { maxSegments: 2 } })
  t.after(() => journal.close())
  const total = 20_000
  const reader = spawnHelper('journal-child.ts', ['skim', dir, String(total)])
  await reader.waitFor('ready')
  for (let position = 0; position < total; position++) {
    journal.append(journalEntry(position))
    if (position % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await reader.waitFor('skimmed')
  assert.equal((await reader.exited).code, 0, reader.stderr())
  const [, got, lost] = /skimmed (\d+) lost (\d+)/.exec(reader.stdout())!
  assert.equal(Number(got) + Number(lost), total)
})
