import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { INDEX_RECORD_SIZE } from '../../src/journal/sparse-index.ts'
import { timeIndexPath } from '../../src/journal/layout.ts'
import { TIME_RING_NAME } from '../../src/journal/time-ring.ts'
import { spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Records in the time index file of the segment at 0. */
function fileRecords(dir: string): number {
  return Math.floor(statSync(timeIndexPath(dir, 0)).size / INDEX_RECORD_SIZE)
}

async function killed(child: Child): Promise<void> {
  child.process.kill('SIGKILL')
  await child.exited
}

/** The entries' times as a reader opened now reads them, checking the entries. */
async function readTimes(dir: string): Promise<number[]> {
  const reader = await Journal.openReader(dir)
  try {
    return [...reader.read()].map((entry, k) => {
      assert.equal(entry.position, k)
      assert.ok(isJournalEntry(entry.position, entry.data))
      return entry.time
    })
  } finally {
    reader.close()
  }
}

/** Where `from: { time }` starts for each time: the first entry at that time. */
async function seeks(dir: string, times: readonly number[]): Promise<void> {
  const reader = await Journal.openReader(dir)
  try {
    for (const [position, time] of times.entries()) {
      assert.equal(reader.read({ from: { time } }).next().value?.position, position, `from { time: ${time} }`)
    }
    assert.equal(reader.read({ from: { time: times.at(-1)! + 1 } }).next().done, true)
  } finally {
    reader.close()
  }
}

test("a writer in another process: readers get each entry's time before its time index file holds it, seek by it, and a kill -9 loses none of them", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const count = 100
  const writer = spawnHelper('journal-time-child.ts', [dir, String(count)])
  t.after(() => killed(writer))
  await writer.waitFor('appended')
  // The writer wrote only some of its 100 time records to the file; the rest are in the ring.
  assert.ok(fileRecords(dir) < count, `${fileRecords(dir)} records in the time index file`)
  const times = await readTimes(dir)
  assert.equal(times.length, count)
  // Each entry was appended in a millisecond of its own.
  for (let k = 1; k < count; k++) assert.ok(times[k]! > times[k - 1]!, `entry ${k}: ${times[k]} after ${times[k - 1]}`)
  await seeks(dir, times)

  await killed(writer)
  assert.ok(fileRecords(dir) < count)
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.equal(fileRecords(dir), count)
  assert.deepEqual(
    [...reopened.read()].map((entry) => entry.time),
    times,
  )
  await seeks(dir, times)
  // Appends after the reopening get times after those.
  const position = reopened.append(new Uint8Array([1]))
  assert.equal(position, count)
  assert.ok(reopened.read({ from: position }).next().value!.time >= times.at(-1)!)
})

test('a reader that fell further behind than the ring reaches finds the times in the time index file', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const count = 400
  const writer = spawnHelper('journal-time-child.ts', [dir, String(count), '1'], { stdin: true })
  t.after(() => killed(writer))
  await writer.waitFor('paused')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const entries = reader.read()
  const first = entries.next().value!
  assert.equal(first.position, 0)
  writer.process.stdin!.write('go\n')
  await writer.waitFor('appended')
  const times = [first.time, ...[...entries].map((entry) => entry.time)]
  assert.equal(times.length, count)
  await killed(writer)
  // What every reader agrees on once the time index file holds every record (the reopening
  // copies the ring's into it).
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.equal(fileRecords(dir), count)
  assert.deepEqual(await readTimes(dir), times)
  for (let k = 1; k < count; k++) assert.ok(times[k]! > times[k - 1]!)
})

test('a journal without its time ring (made by an earlier version) is read from its time index files, and its writer makes one', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true })
  for (let position = 0; position < 50; position++) {
    const before = Date.now()
    while (Date.now() === before) {
      // A new millisecond for each entry.
    }
    journal.append(journalEntry(position))
  }
  const times = [...journal.read()].map((entry) => entry.time)
  await journal.close()
  rmSync(join(dir, TIME_RING_NAME))
  assert.deepEqual(await readTimes(dir), times)
  await seeks(dir, times)
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.ok(existsSync(join(dir, TIME_RING_NAME)))
  assert.deepEqual(
    [...reopened.read()].map((entry) => entry.time),
    times,
  )
})

test('a reader through another mount of the same file system (a bind mount) gets the times from the ring too', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to bind-mount a directory')
    return
  }
  const root = tmpDir(t)
  const real = join(root, 'real')
  const view = join(root, 'view')
  mkdirSync(real)
  mkdirSync(view)
  execFileSync('mount', ['--bind', real, view], { stdio: 'pipe' })
  try {
    const count = 100
    const writer = spawnHelper('journal-time-child.ts', [join(real, 'journal'), String(count)])
    try {
      await writer.waitFor('appended')
      assert.ok(fileRecords(join(real, 'journal')) < count)
      const times = await readTimes(join(view, 'journal'))
      assert.equal(times.length, count)
      for (let k = 1; k < count; k++) assert.ok(times[k]! > times[k - 1]!, `entry ${k}: ${times[k]} after ${times[k - 1]}`)
      assert.deepEqual(await readTimes(join(real, 'journal')), times)
    } finally {
      await killed(writer)
    }
  } finally {
    execFileSync('umount', ['--lazy', view], { stdio: 'pipe' })
  }
})
