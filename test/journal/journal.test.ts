import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync, writeFileSync, chmodSync, openSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal } from '../../src/index.ts'
import type { JournalEntry } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { isJournalEntry, journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { notBytes as notBytesList } from '../helpers/not-bytes.ts'

function checkEntries(entries: JournalEntry[], from: number): void {
  entries.forEach((entry, k) => {
    assert.equal(entry.position, from + k)
    assert.ok(isJournalEntry(entry.position, entry.data), `entry ${entry.position}`)
  })
}

async function filled(dir: string, count: number, segmentBytes = 4096): Promise<Journal> {
  const journal = await Journal.open(dir, { create: true, segmentBytes })
  for (let position = 0; position < count; position++) assert.equal(journal.append(journalEntry(position)), position)
  return journal
}

test('positions are dense across segment rolls, segments are named by their first position, and survive reopening', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 2000)
  assert.ok(journal.segmentCount > 10, `${journal.segmentCount} segments`)
  assert.equal(journal.firstPosition, 0)
  assert.equal(journal.nextPosition, 2000)
  checkEntries([...journal.read()], 0)
  await journal.close()
  const logs = readdirSync(dir).filter((name) => name.endsWith('.log'))
  assert.deepEqual(logs, [...logs].sort())
  assert.equal(logs[0], '00000000000000000000.log')
  // Each segment is named by its first position: the first entry in it has that position.
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  for (const name of logs) {
    const base = Number(name.slice(0, 20))
    const [entry] = reopened.read({ from: base, to: base + 1 })
    assert.equal(entry?.position, base)
  }
  assert.equal(reopened.nextPosition, 2000)
  assert.equal(reopened.append(journalEntry(2000)), 2000)
  checkEntries([...reopened.read({ from: 1990 })], 1990)
  // Sealed segments are finished (read-only); the open one is not.
  const modes = logs.slice(0, -1).map((name) => statSync(join(dir, name)).mode & 0o222)
  assert.ok(modes.every((mode) => mode === 0), 'sealed segments are read-only')
})

test('read() takes from as start, end, a position or a time, and to as an exclusive end', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 300)
  t.after(() => journal.close())
  checkEntries([...journal.read({ from: 'start', to: 5 })], 0)
  assert.equal([...journal.read({ from: 'end' })].length, 0)
  checkEntries([...journal.read({ from: 123, to: 130 })], 123)
  assert.equal([...journal.read({ from: 123, to: 130 })].length, 7)
  // A time after every entry: the end; at or before the first: the start.
  assert.equal([...journal.read({ from: { time: Date.now() + 60_000 } })].length, 0)
  const [first] = journal.read({ from: 0, to: 1 })
  assert.equal(journal.read({ from: { time: first!.time } }).next().value?.position, 0)
  // Entries appended later get later (or equal) times, and from { time } finds the first of them.
  await waitForClockTick(first!.time)
  const later = journal.append(journalEntry(300))
  const [entry] = journal.read({ from: later })
  assert.ok(entry!.time > first!.time)
  assert.equal(journal.read({ from: { time: entry!.time } }).next().value?.position, later)
  for (const e of journal.read()) assert.ok(e.time >= first!.time && e.time <= entry!.time)
})

async function waitForClockTick(after: number): Promise<void> {
  while (Date.now() <= after) await new Promise((resolve) => setTimeout(resolve, 1))
}

test('times are kept across reopening and rolls (the time index)', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  const times: number[] = []
  for (let position = 0; position < 200; position++) {
    journal.append(journalEntry(position))
    if (position % 50 === 49) await waitForClockTick(Date.now())
  }
  for (const entry of journal.read()) times.push(entry.time)
  await journal.close()
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.deepEqual(
    [...reopened.read()].map((entry) => entry.time),
    times,
  )
  assert.ok(new Set(times).size >= 4)
})

test("an entry's time is the clock read at its append, in a synchronous burst too: never before a reading taken before the call, nor after one taken after it, across rolls and batches", async (t) => {
  const journal = await Journal.open(join(tmpDir(t), 'journal'), { create: true, segmentBytes: 4096 })
  t.after(() => journal.close())
  const bounds = new Map<number, { before: number; after: number }>()
  let position = 0
  // No event-loop turn from the first append to the last: a clock read once per turn (or per
  // a number of appends) would give the later entries an earlier time.
  for (let round = 0; round < 12; round++) {
    const tick = Date.now()
    while (Date.now() === tick) {
      // The next millisecond, waited for without yielding.
    }
    const before = Date.now()
    const count = round % 3 === 2 ? 3 : 1
    const entries = Array.from({ length: count }, (_, k) => journalEntry(position + k))
    const first = count === 1 ? journal.append(entries[0]!) : journal.appendBatch(entries)
    const after = Date.now()
    for (let k = 0; k < count; k++) bounds.set(first + k, { before, after })
    position += count
    // Entries enough for a roll every other round.
    for (let k = 0; k < 8; k++) journal.append(journalEntry(position++))
  }
  assert.ok(journal.segmentCount > 5, `${journal.segmentCount} segments`)
  let checked = 0
  for (const entry of journal.read()) {
    const bound = bounds.get(entry.position)
    if (bound === undefined) continue
    assert.ok(entry.time >= bound.before && entry.time <= bound.after, `entry ${entry.position}: time ${entry.time}, appended between ${bound.before} and ${bound.after}`)
    checked++
  }
  assert.equal(checked, bounds.size)
})

test('seeking reads no entry before the one asked for: damage early in a segment does not stop a read further on', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 3000, 1024 * 1024)
  await journal.close()
  const path = join(dir, '00000000000000000000.log')
  chmodSync(path, 0o644)
  const fd = openSync(path, 'r+')
  writeSync(fd, new Uint8Array(64).fill(0xee), 0, 64, 100)
  closeSync(fd)
  const reopened = await Journal.open(dir)
  t.after(() => reopened.close())
  assert.throws(() => [...reopened.read({ from: 0, to: 10 })], { code: ErrorCode.LogCorrupted })
  checkEntries([...reopened.read({ from: 2500, to: 2600 })], 2500)
  assert.ok(statSync(join(dir, '00000000000000000000.index')).size > 0, 'the offset index has records')
})

test('a damaged or missing index is rebuilt from the data, positions unchanged', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 3000, 1024 * 1024)
  await journal.close()
  const index = join(dir, '00000000000000000000.index')
  const good = readFileSync(index)
  assert.ok(good.length > 0)
  const damages = [new Uint8Array(0), good.subarray(0, good.length - 5), new Uint8Array(good.length).fill(0xff), new Uint8Array(48)]
  for (const damage of damages) {
    writeFileSync(index, damage)
    const reopened = await Journal.open(dir)
    assert.equal(reopened.nextPosition, 3000)
    checkEntries([...reopened.read({ from: 1500, to: 1600 })], 1500)
    await reopened.close()
    assert.deepEqual(readFileSync(index), good, 'the index is rebuilt as it was')
  }
  const reopened = await Journal.open(dir)
  assert.equal(reopened.append(journalEntry(3000)), 3000)
  checkEntries([...reopened.read({ from: 2990 })], 2990)
  await reopened.close()
})

test('follow() goes on across rolls and ends when aborted', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  t.after(() => journal.close())
  const controller = new AbortController()
  const seen: JournalEntry[] = []
  const following = (async () => {
    for await (const entry of journal.follow({ from: 'start', signal: controller.signal })) {
      seen.push(entry)
      if (entry.position === 999) controller.abort()
    }
  })()
  for (let position = 0; position < 1000; position++) {
    journal.append(journalEntry(position))
    if (position % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await assert.rejects(following, { name: 'AbortError' })
  checkEntries(seen, 0)
  assert.equal(seen.length, 1000)
  assert.ok(journal.segmentCount > 5)
})

test('follow() of the writer returns when the journal is closed', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 10)
  const seen: number[] = []
  const following = (async () => {
    for await (const entry of journal.follow()) seen.push(entry.position)
  })()
  while (seen.length < 10) await new Promise((resolve) => setTimeout(resolve, 5))
  await journal.close()
  await following
  assert.equal(seen.length, 10)
})

test('appendBatch: the entries get consecutive positions and become visible together', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 5, 4096)
  t.after(() => journal.close())
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const batch = Array.from({ length: 50 }, (_, k) => journalEntry(5 + k))
  const controller = new AbortController()
  const following = (async () => {
    let count = 0
    for await (const entry of reader.follow({ from: 5, signal: controller.signal })) {
      count++
      if (entry.position === 54) controller.abort()
    }
    return count
  })().catch((error: unknown) => error)
  assert.equal(journal.appendBatch(batch), 5)
  assert.equal(journal.nextPosition, 55)
  assert.equal((await following as Error).name, 'AbortError')
  checkEntries([...journal.read({ from: 5 })], 5)
  // A batch larger than a segment lands whole in one segment (a batch is never split).
  const big = Array.from({ length: 60 }, (_, k) => journalEntry(55 + k, 200))
  assert.equal(journal.appendBatch(big), 55)
  assert.equal(journal.appendBatch([]), 115)
  assert.equal(await journal.appendDurable(journalEntry(115)), 115)
})

test('a second writer gets ERR_AOF_LOCKED, in this process and in another; a killed holder blocks nobody', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await filled(dir, 3)
  // The message says what is held, and where, once each.
  await assert.rejects(Journal.open(dir), {
    code: ErrorCode.Locked,
    message: `journal '${dir}' has a writer already, in this process or another (its lock '${join(dir, 'writer.lock')}' is held)`,
  })
  const child = spawnHelper('journal-child.ts', ['hold', dir])
  await child.waitFor('error')
  assert.match(child.stdout(), /error ERR_AOF_LOCKED/)
  await child.exited
  await journal.close()
  const holder = spawnHelper('journal-child.ts', ['hold', dir], { stdin: true })
  await holder.waitFor('open')
  await assert.rejects(Journal.open(dir), { code: ErrorCode.Locked })
  holder.process.kill('SIGKILL')
  await holder.exited
  const again = await Journal.open(dir)
  assert.equal(again.nextPosition, 3)
  await again.close()
})

test('a reader in another process follows across rolls and across the writer stopping and a new one starting', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const first = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  await first.close()
  const follower = spawnHelper('journal-child.ts', ['follow', dir, '0', '3000'])
  await follower.waitFor('ready')
  for (const from of [0, 1000, 2000]) {
    const writer = spawnHelper('journal-child.ts', ['write', dir, String(from), '1000', '4096'])
    await writer.waitFor('closed')
    await writer.exited
  }
  await follower.waitFor('followed 3000')
  assert.equal((await follower.exited).code, 0)
})

test('bad input gets a stable code', async (t) => {
  const root = tmpDir(t)
  await assert.rejects(Journal.open(join(root, 'missing')), { code: ErrorCode.NotFound })
  writeFileSync(join(root, 'stray'), 'x')
  await assert.rejects(Journal.open(root, { create: true }), { code: ErrorCode.NotAJournal })
  await assert.rejects(Journal.open(root), { code: ErrorCode.NotAJournal })
  await assert.rejects(Journal.openReader(root), { code: ErrorCode.NotAJournal })
  await assert.rejects(Journal.open(join(root, 'stray')), { code: ErrorCode.NotAJournal })
  await assert.rejects(Journal.open(''), { code: ErrorCode.InvalidArgument })
  await assert.rejects(Journal.open(join(root, 'j'), { create: true, segmentBytes: 10 }), { code: ErrorCode.InvalidArgument })
  await assert.rejects(Journal.open(join(root, 'j'), { create: true, segmentMs: -1 }), { code: ErrorCode.InvalidArgument })
  await assert.rejects(Journal.open(join(root, 'j'), { create: true, retention: { maxBytes: 'x' as unknown as number } }), {
    code: ErrorCode.InvalidArgument,
  })
  const journal = await filled(join(root, 'j'), 10)
  assert.throws(() => journal.append('text' as unknown as Uint8Array), { code: ErrorCode.InvalidArgument })
  assert.throws(() => journal.appendBatch([new Uint8Array(1), 5 as unknown as Uint8Array]), { code: ErrorCode.InvalidArgument })
  assert.equal(journal.nextPosition, 10, 'a refused batch appends nothing')
  assert.throws(() => journal.read({ from: 11 }), { code: ErrorCode.JournalOutOfRange })
  assert.throws(() => journal.read({ from: -1 }), { code: ErrorCode.InvalidArgument })
  assert.throws(() => journal.read({ from: 'middle' as unknown as number }), { code: ErrorCode.InvalidArgument })
  assert.throws(() => journal.read({ to: 1.5 }), { code: ErrorCode.InvalidArgument })
  assert.throws(() => journal.follow({ signal: {} as AbortSignal }), { code: ErrorCode.InvalidArgument })
  await journal.close()
  assert.throws(() => journal.append(new Uint8Array(1)), { code: ErrorCode.Closed })
  await assert.rejects(journal.sync(), { code: ErrorCode.Closed })
})

test('what is not bytes is refused with nothing appended and no roll, Proxies that pass instanceof included, the segment full or not', async (t) => {
  const dir = join(tmpDir(t), 'j')
  const segmentBytes = 4096
  const journal = await Journal.open(dir, { create: true, segmentBytes })
  t.after(() => journal.close())
  const notBytes = notBytesList()
  let position = 0
  // Against an empty segment, one partly filled, and one an entry no longer fits in.
  for (const fill of [0, 10, 40]) {
    while (position < fill) assert.equal(journal.append(journalEntry(position)), position++)
    const segments = journal.segmentCount
    for (const [k, value] of notBytes.entries()) {
      assert.throws(() => journal.append(value as Uint8Array), { code: ErrorCode.InvalidArgument }, `append of value ${k} at ${position}`)
      assert.throws(() => journal.appendBatch([journalEntry(position), value as Uint8Array]), { code: ErrorCode.InvalidArgument })
    }
    assert.equal(journal.nextPosition, position, 'nothing appended')
    assert.equal(journal.segmentCount, segments, 'no roll for an entry refused')
  }
  const before = Date.now()
  assert.equal(journal.append(journalEntry(position)), position)
  const after = Date.now()
  const read = [...journal.read()]
  assert.deepEqual(
    read.map((entry) => entry.position),
    Array.from({ length: position + 1 }, (_, k) => k),
  )
  for (const entry of read) assert.ok(isJournalEntry(entry.position, entry.data), `entry ${entry.position}`)
  const last = read.at(-1)!
  assert.ok(last.time >= before && last.time <= after, `time ${last.time} of an append between ${before} and ${after}`)
})

test('an empty entry is refused (the record log has no record for it): positions keep naming the same bytes', async (t) => {
  const dir = join(tmpDir(t), 'j')
  const journal = await Journal.open(dir, { create: true })
  journal.append(journalEntry(0))
  assert.throws(() => journal.append(new Uint8Array(0)), { code: ErrorCode.InvalidArgument })
  assert.throws(() => journal.appendBatch([journalEntry(1), new Uint8Array(0), journalEntry(2)]), { code: ErrorCode.InvalidArgument })
  await assert.rejects(journal.appendDurable(new Uint8Array(0)), { code: ErrorCode.InvalidArgument })
  assert.equal(journal.nextPosition, 1, 'nothing appended')
  journal.append(journalEntry(1))
  const read = [...journal.read()]
  assert.deepEqual(
    read.map(({ position }) => position),
    [0, 1],
  )
  for (const entry of read) assert.ok(isJournalEntry(entry.position, entry.data))
  await journal.close()
  const reopened = await Journal.open(dir)
  assert.equal(reopened.nextPosition, 2)
  await reopened.close()
})

test('a segment made by a roll takes every entry up to segmentBytes, and an entry or batch larger than segmentBytes gets one of its own', async (t) => {
  const dir = join(tmpDir(t), 'j')
  const segmentBytes = 8192
  let journal = await Journal.open(dir, { create: true, segmentBytes })
  const sizes = new Map<number, number>()
  const add = (size: number): void => {
    const position = journal.nextPosition
    sizes.set(position, size)
    assert.equal(journal.append(journalEntry(position, size)), position)
  }
  for (let k = 0; k < 40; k++) add(300)
  // Larger than a segment (and than the room a segment has past segmentBytes): its own, after
  // a roll; then small ones fill the next to the limit.
  add(200_000)
  for (let k = 0; k < 40; k++) add(500)
  add(segmentBytes - 200)
  const first = journal.nextPosition
  const batch = Array.from({ length: 5 }, (_, k) => journalEntry(first + k, 50_000))
  batch.forEach((entry, k) => sizes.set(first + k, entry.length))
  assert.equal(journal.appendBatch(batch), first)
  for (let k = 0; k < 20; k++) add(700)
  // Reopened, the last segment (made by a roll) takes more; a roll by age makes one that takes
  // an entry of any size.
  await journal.close()
  journal = await Journal.open(dir, { segmentBytes, segmentMs: 20 })
  t.after(() => journal.close())
  add(400)
  const before = journal.segmentCount
  const deadline = Date.now() + 10_000
  while (journal.segmentCount === before) {
    assert.ok(Date.now() < deadline, 'no roll by age')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  add(300_000)
  add(100)
  const read = [...journal.read()]
  assert.deepEqual(
    read.map(({ position }) => position),
    [...sizes.keys()],
  )
  for (const entry of read) {
    assert.equal(entry.data.length, sizes.get(entry.position))
    assert.deepEqual(entry.data, journalEntry(entry.position, entry.data.length))
  }
})
