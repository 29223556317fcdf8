/**
 * The time ring's repair under attack: times-shm renamed away, replaced while another link keeps
 * the old file, replaced by a directory, damaged under a live follower; the lost-time rule with a
 * time index deleted under a ring that reaches only the newest records, a segment written by two
 * writers, a journal copied (`cp -a`) or moved (`mv`) while no writer runs. Every entry's time
 * must lie between the writer's clock readings around its append, never decrease, and
 * `from: { time }` must find it; where times are lost, no entry may get a later time.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { Journal } from '../../src/index.ts'
import { timeIndexPath } from '../../src/journal/layout.ts'
import { readIndex } from '../../src/journal/sparse-index.ts'
import { TIME_RING_NAME } from '../../src/journal/time-ring.ts'
import { aof } from '../cli/fixtures.ts'
import { prng, spawnHelper } from '../helpers/child.ts'
import { mountFor } from '../helpers/mount.ts'
import { boundsOf, checkNoLaterTimes, checkSeeks, checkTimes, killed, readAll, readersInWorkers, take, writer, writerDone } from '../helpers/time-ring-checks.ts'
import type { Timed } from '../helpers/time-ring-checks.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { until } from '../helpers/until.ts'

/** Damage done to times-shm under a live writer, which keeps its mapping of the old file. */
const LIVE_DAMAGE: Record<string, (ring: string) => void> = {
  // The old file keeps its link (under another name): no link count drops to 0.
  'renamed away': (ring) => renameSync(ring, `${ring}.moved`),
  // A backup's hard link keeps the old file while a copy of it is renamed over the path.
  'replaced by a copy while a hard link keeps the old file': (ring) => {
    linkSync(ring, `${ring}.backup`)
    writeFileSync(`${ring}.copy`, readFileSync(ring))
    renameSync(`${ring}.copy`, ring)
  },
}

for (const [name, damage] of Object.entries(LIVE_DAMAGE)) {
  test(`times-shm ${name} under a live writer is made again by its next sync(): readers opened before and after give each entry its own time`, async (t) => {
    const dir = join(tmpDir(t), 'journal')
    const child = await writerDone(t, dir, 40, { resume: 20 })
    const early = await Journal.openReader(dir)
    t.after(() => early.close())
    const entries = early.read({ from: 0 })
    const read = take(entries, 40)
    damage(join(dir, TIME_RING_NAME))
    child.process.stdin!.write('go\n')
    await child.waitFor('M;')
    for (const { position, time } of entries) read.push({ position, time })
    const bounds = boundsOf(child)
    assert.equal(read.length, 60)
    checkTimes(read, bounds, `a reader opened before the ring was ${name}`)
    const late = await readAll(dir)
    checkTimes(late, bounds, `a reader opened after the ring was ${name}`)
    await checkSeeks(dir, late, `after the ring was ${name}`)
  })
}

test('a follower (follow()) across times-shm deleted under the live writer and made again: each entry its own time, seeks find each', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = writer(dir, 40, { resume: 90 })
  t.after(() => killed(child))
  await child.waitFor('R;')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const followed: Timed[] = []
  const following = (async () => {
    for await (const entry of reader.follow({ from: 0 })) {
      followed.push({ position: entry.position, time: entry.time })
      if (entry.position === 129) break
    }
  })()
  await child.waitFor('D;')
  await until(() => followed.length >= 40, 'the first 40 entries followed')
  rmSync(join(dir, TIME_RING_NAME))
  // The repair (at the sync) happens first; then more than 64 records, so the new ring's records
  // are written to the file once while the follower reads.
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  await following
  const bounds = boundsOf(child)
  checkTimes(followed, bounds, 'the follower')
  const all = await readAll(dir)
  assert.deepEqual(all, followed)
  await checkSeeks(dir, all, 'after the repair')
})

test('times-shm replaced by a directory under a live writer: the writer appends and syncs on, readers do not fail and give no entry a later time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 40, { resume: 20 })
  const early = await Journal.openReader(dir)
  t.after(() => early.close())
  const entries = early.read({ from: 0 })
  const read = take(entries, 40)
  const ring = join(dir, TIME_RING_NAME)
  rmSync(ring)
  mkdirSync(ring)
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  for (const { position, time } of entries) read.push({ position, time })
  const bounds = boundsOf(child)
  // The early reader's mapping is the one the writer still publishes in.
  checkTimes(read, bounds, 'a reader opened before the ring was replaced')
  const late = await readAll(dir)
  assert.equal(late.length, 60)
  checkNoLaterTimes(late, bounds, 'a reader opened after the ring was replaced')
  checkTimes(late.slice(0, 40), bounds, 'a reader opened after, entries written to the file at the sync')
  const inspect = await aof(['inspect', '--json', dir])
  assert.equal(inspect.status, 0, inspect.stderr)
  // The writer killed, the directory still there: a new writer cannot make its ring.
  await killed(child)
  await assert.rejects(Journal.open(dir), (error: { code?: string }) => typeof error.code === 'string' && error.code.startsWith('ERR_'))
  rmSync(ring, { recursive: true })
  const reopened = await Journal.open(dir)
  await reopened.close()
  checkNoLaterTimes(await readAll(dir), bounds, 'after the reopening')
})

test('the time index of a segment with more time records than the ring holds, deleted: the reopening gives no entry before the ring\'s first record a later time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = writer(dir, 200, { exit: true })
  await child.exited
  const bounds = boundsOf(child)
  rmSync(timeIndexPath(dir, 0))
  const reopened = await Journal.open(dir)
  await reopened.close()
  const entries = await readAll(dir)
  assert.equal(entries.length, 200)
  checkNoLaterTimes(entries, bounds, 'after the reopening')
  // The records the ring still held keep their entries' times.
  checkTimes(entries.slice(100), bounds, 'entries whose records the ring held')
})

/** Where a journal's lost times are looked for: a file system with birth times (ext4, tmpfs) or one without (ramfs). */
const LOST_TIME_PLACES = {
  'the temporary directory': (t: TestContext): string | null => tmpDir(t),
  'a ramfs (no birth times)': (t: TestContext): string | null => mountFor(t, 'ramfs', 'mode=0755'),
}

for (const [where, place] of Object.entries(LOST_TIME_PLACES)) {
  test(
    `a segment written by two writers whose time records were all lost (in ${where}): the first writer's entries get no later time`,
    async (t) => {
      const root = place(t)
      if (root === null) return
      const dir = join(root, 'journal')
      const first = writer(dir, 20, { exit: true })
      await first.exited
      // A later open, some milliseconds after the first writer's last entry.
      const start = Date.now()
      await until(() => Date.now() > start + 5, 'a few milliseconds')
      const second = writer(dir, 20, { exit: true })
      await second.exited
      const bounds = boundsOf(first, second)
      assert.equal(bounds.size, 40)
      rmSync(timeIndexPath(dir, 0))
      rmSync(join(dir, TIME_RING_NAME))
      const reopened = await Journal.open(dir)
      await reopened.close()
      checkNoLaterTimes(await readAll(dir), bounds, 'after the reopening')
    },
  )

  for (const lock of ['touched an hour into the future', 'deleted'] as const) {
    test(
      `writer.lock ${lock} after a kill, the segment's time records lost (in ${where}): no entry gets a later time`,
      async (t) => {
        const root = place(t)
        if (root === null) return
        const dir = join(root, 'journal')
        const child = await writerDone(t, dir, 20)
        await killed(child)
        const bounds = boundsOf(child)
        const lockPath = join(dir, 'writer.lock')
        if (lock === 'deleted') rmSync(lockPath)
        else {
          const future = new Date(Date.now() + 3_600_000)
          utimesSync(lockPath, future, future)
        }
        rmSync(timeIndexPath(dir, 0), { force: true })
        rmSync(join(dir, TIME_RING_NAME))
        const start = Date.now()
        await until(() => Date.now() > start + 5, 'a few milliseconds')
        const reopened = await Journal.open(dir)
        await reopened.close()
        checkNoLaterTimes(await readAll(dir), bounds, 'after the reopening')
      },
    )
  }
}

/** Where the copy of a journal goes: the same file system (no birth times here), or a tmpfs (birth times). */
for (const where of ['the temporary directory', '/dev/shm'] as const) {
  test(`a journal copied with cp -a (in ${where}) after its writer was killed with its times only in the ring: no entry gets a later time, and the original keeps every time`, async (t) => {
    if (where === '/dev/shm' && !existsSync('/dev/shm')) return t.skip('no /dev/shm')
    const dir = join(tmpDir(t), 'journal')
    const child = await writerDone(t, dir, 30)
    await killed(child)
    const bounds = boundsOf(child)
    // No record reached the file: the writer never returned to its event loop.
    assert.equal(readIndex(timeIndexPath(dir, 0)).first.length, 0)
    const root = where === '/dev/shm' ? mkdtempSync('/dev/shm/aofkit-') : tmpDir(t)
    if (where === '/dev/shm') t.after(() => rmSync(root, { recursive: true, force: true }))
    const copy = join(root, 'copy')
    // Later than every entry: a copy's birth time is when it was made.
    const start = Date.now()
    await until(() => Date.now() > start + 5, 'a few milliseconds')
    execFileSync('cp', ['-a', dir, copy])
    // The ring names the original's directory: a reader of the copy does not use it.
    checkNoLaterTimes(await readAll(copy), bounds, 'a reader of the copy before a writer opens it')
    const reopened = await Journal.open(copy)
    await reopened.close()
    const entries = await readAll(copy)
    assert.equal(entries.length, 30)
    checkNoLaterTimes(entries, bounds, 'the copy after its reopening')
    // The original, untouched, keeps each entry's own time.
    checkTimes(await readAll(dir), bounds, 'the original')
  })
}

test('a journal directory moved (mv, the same inode) after its writer was killed: the ring still answers, and the reopening keeps each entry\'s time', async (t) => {
  const root = tmpDir(t)
  const dir = join(root, 'journal')
  const child = await writerDone(t, dir, 30)
  await killed(child)
  const bounds = boundsOf(child)
  const moved = join(root, 'moved')
  renameSync(dir, moved)
  checkTimes(await readAll(moved), bounds, 'a reader of the moved journal')
  const reopened = await Journal.open(moved)
  await reopened.close()
  const entries = await readAll(moved)
  checkTimes(entries, bounds, 'after the reopening')
  await checkSeeks(moved, entries, 'after the reopening')
})

test('aof inspect and aof cat of a journal whose ring was deleted under its writer, repaired, then the writer killed: first and last times are the entries\'', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 40, { resume: 20 })
  rmSync(join(dir, TIME_RING_NAME))
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  await killed(child)
  const bounds = boundsOf(child)
  const entries = await readAll(dir)
  checkTimes(entries, bounds, 'a reader after the kill')
  const run = await aof(['inspect', '--json', dir])
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout) as { nextPosition: number; segments: Array<{ firstTime: number; lastTime: number }> }
  assert.equal(report.nextPosition, 60)
  assert.equal(report.segments[0]!.firstTime, entries[0]!.time)
  assert.equal(report.segments[0]!.lastTime, entries[59]!.time)
  const cat = await aof(['cat', dir])
  assert.equal(cat.status, 0, cat.stderr)
})

test('times-shm cut to nothing and grown back to a page under a live writer (before its mapping met the cut): made again by the next sync(), readers give each entry its own time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 40, { resume: 20 })
  const ring = join(dir, TIME_RING_NAME)
  truncateSync(ring, 0)
  truncateSync(ring, 4096)
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  const bounds = boundsOf(child)
  const entries = await readAll(dir)
  assert.equal(entries.length, 60)
  checkTimes(entries, bounds, 'a reader opened after the ring was cut and grown back')
})

test('a reader that mapped the ring before it was deleted reads a batch (entries sharing one time record) before the writer repairs it: each entry gets the batch\'s time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true })
  t.after(() => journal.close())
  for (let k = 0; k < 10; k++) journal.append(new Uint8Array([k + 1]))
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const entries = reader.read({ from: 0 })
  const read = take(entries, 10)
  rmSync(join(dir, TIME_RING_NAME))
  // A new millisecond, so that the batch gets a time record of its own.
  const last = read[9]!.time
  await until(() => Date.now() > last, 'a new millisecond')
  const before = Date.now()
  const first = journal.appendBatch([new Uint8Array([11]), new Uint8Array([12]), new Uint8Array([13])])
  const after = Date.now()
  assert.equal(first, 10)
  for (const { position, time } of entries) read.push({ position, time })
  assert.equal(read.length, 13)
  for (const { position, time } of read.slice(10)) assert.ok(time >= before && time <= after, `entry ${position}: time ${time}, appended within [${before}, ${after}]`)
})

test('a reader that mapped the ring before it was cut reads a new entry before the writer repairs it: its time is no later than its append and not before the previous entry\'s', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true })
  t.after(() => journal.close())
  for (let k = 0; k < 10; k++) journal.append(new Uint8Array([k + 1]))
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const entries = reader.read({ from: 0 })
  const read = take(entries, 10)
  truncateSync(join(dir, TIME_RING_NAME), 0)
  const last = read[9]!.time
  await until(() => Date.now() > last, 'a new millisecond')
  journal.append(new Uint8Array([11]))
  const after = Date.now()
  for (const { position, time } of entries) read.push({ position, time })
  assert.equal(read.length, 11)
  // Its record is nowhere a reader can find it until the repair (documented): an earlier time.
  const { time } = read[10]!
  assert.ok(time >= last && time <= after, `entry 10: time ${time}, after entry 9's ${last} and appended by ${after}`)
})

test('times-shm deleted, cut and replaced again and again while the writer appends and rolls, followed here and read in worker threads: no entry gets a later time, and after the next sync() every reader gets each entry\'s own time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const count = 300
  const child = writer(dir, count, { journal: { segmentBytes: 4096 }, paceMs: 1, resume: 20 })
  t.after(() => killed(child))
  await child.waitFor('R;')
  const results = readersInWorkers(t, dir, count, [3, 4])
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const followed: Timed[] = []
  const following = (async () => {
    for await (const entry of reader.follow({ from: 0 })) {
      followed.push({ position: entry.position, time: entry.time })
      if (entry.position === count + 19) break
    }
  })()
  // Damage at random moments, sometimes twice within a few milliseconds, until the last append.
  const random = prng(8)
  const ring = join(dir, TIME_RING_NAME)
  let damaged = 0
  while (!child.stdout().includes('D;')) {
    const kind = Math.floor(random() * 3)
    try {
      if (kind === 0) rmSync(ring)
      else if (kind === 1) truncateSync(ring, Math.floor(random() * 2) * 100)
      else {
        writeFileSync(`${ring}.copy`, readFileSync(ring))
        renameSync(`${ring}.copy`, ring)
      }
      damaged++
    } catch {
      // No ring at the path just now.
    }
    await new Promise((resolve) => setTimeout(resolve, random() < 0.3 ? 1 : 10 + random() * 40))
  }
  assert.ok(damaged >= 3, `${damaged} damages`)
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  await following
  const bounds = boundsOf(child)
  checkNoLaterTimes(followed, bounds, 'the follower')
  for (const [k, result] of results.entries()) {
    for (const [position, time] of await result) {
      const bound = bounds.get(position)!
      assert.ok(time <= bound[1], `worker ${k}: entry ${position} has time ${time}, appended by ${bound[1]}`)
    }
  }
  const all = await readAll(dir)
  assert.equal(all.length, count + 20)
  checkTimes(all, bounds, 'a reader opened after the repair')
  await checkSeeks(dir, all, 'after the repair')
  t.diagnostic(`${damaged} damages; the follower got ${followed.filter(({ position, time }) => time !== all[position]!.time).length} earlier times`)
})

test('times-shm replaced by a directory while the writer appends and syncs, then removed: a sync() after makes the ring again, and readers opened then give each entry its own time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = writer(dir, 210, { syncEvery: 20, paceMs: 1 })
  t.after(() => killed(child))
  await child.waitFor('S40;')
  const ring = join(dir, TIME_RING_NAME)
  rmSync(ring)
  mkdirSync(ring)
  // Syncs that cannot make the ring: the writer goes on.
  await child.waitFor('S100;')
  rmSync(ring, { recursive: true })
  await child.waitFor('D;')
  const bounds = boundsOf(child)
  assert.equal(bounds.size, 210)
  const entries = await readAll(dir)
  assert.equal(entries.length, 210)
  checkTimes(entries, bounds, 'a reader opened after the ring was made again')
  await checkSeeks(dir, entries, 'after the ring was made again')
})

test('times-shm replaced by a symlink to a file on another file system under a live writer: the writer makes its ring there, readers follow the link and give each entry its own time', async (t) => {
  if (!existsSync('/dev/shm')) return t.skip('no /dev/shm')
  const elsewhere = mkdtempSync('/dev/shm/aofkit-')
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }))
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 40, { resume: 20 })
  const ring = join(dir, TIME_RING_NAME)
  rmSync(ring)
  symlinkSync(join(elsewhere, 'ring'), ring)
  child.process.stdin!.write('go\n')
  await child.waitFor('M;')
  const bounds = boundsOf(child)
  assert.ok(existsSync(join(elsewhere, 'ring')), 'the ring made through the link')
  const entries = await readAll(dir)
  assert.equal(entries.length, 60)
  checkTimes(entries, bounds, 'a reader opened after the ring was linked elsewhere')
  // The writer killed and the journal reopened: the ring through the link is kept.
  await killed(child)
  const reopened = await Journal.open(dir)
  await reopened.close()
  checkTimes(await readAll(dir), bounds, 'after the reopening')
})

test("a finished segment's time index deleted: a reader going on from the segment before, or starting inside it, gives its entries no later time and never an earlier one than the previous entry's", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = writer(dir, 150, { journal: { segmentBytes: 4096 }, exit: true })
  await child.exited
  const bounds = boundsOf(child)
  const bases = readdirSync(dir).filter((name) => name.endsWith('.timeindex')).sort()
  assert.ok(bases.length >= 3, `${bases.length} segments`)
  rmSync(join(dir, bases[1]!))
  const entries = await readAll(dir)
  assert.equal(entries.length, 150)
  checkNoLaterTimes(entries, bounds, 'a reader from the first entry')
  // Entries of the other segments keep their own times.
  const second = Number(bases[1]!.slice(0, 20))
  const third = Number(bases[2]!.slice(0, 20))
  checkTimes(entries.filter(({ position }) => position < second || position >= third), bounds, 'the other segments')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const followed: Timed[] = []
  for await (const entry of reader.follow({ from: 0 })) {
    followed.push({ position: entry.position, time: entry.time })
    if (entry.position === 149) break
  }
  assert.deepEqual(followed, entries)
  // Starting inside the segment: not time 0, nor the next segment's, but the time before them
  // (here the last entry of the segment before).
  const inside = [...reader.read({ from: second + 1, to: third })].map(({ position, time }) => ({ position, time }))
  assert.equal(inside.length, third - second - 1)
  checkNoLaterTimes(inside, bounds, 'a reader starting inside the segment')
  const before = entries.find(({ position }) => position === second - 1)!.time
  for (const { position, time } of inside) assert.ok(time >= before, `entry ${position}: time ${time}, before the previous segment's last ${before}`)
})

test('times-shm replaced by a named pipe after the writer was killed with its newest times only in the ring: a reader (in a process of its own) and aof inspect do not block, and give no entry a later time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 30)
  await killed(child)
  const bounds = boundsOf(child)
  const ring = join(dir, TIME_RING_NAME)
  rmSync(ring)
  execFileSync('mkfifo', [ring])
  const reader = spawnHelper('journal-read-child.ts', [dir])
  t.after(() => killed(reader))
  let ended = false
  void reader.exited.then(() => (ended = true))
  try {
    await until(() => ended, 'the reader to end')
  } finally {
    await killed(reader)
  }
  const read = (JSON.parse(reader.stdout()) as Array<[number, number]>).map(([position, time]) => ({ position, time }))
  assert.equal(read.length, 30)
  checkNoLaterTimes(read, bounds, 'a reader with a named pipe for a ring')
  const inspect = spawnHelper('../../src/cli/main.ts', ['inspect', '--json', dir])
  t.after(() => killed(inspect))
  let inspected = false
  void inspect.exited.then(() => (inspected = true))
  try {
    await until(() => inspected, 'aof inspect to end')
  } finally {
    await killed(inspect)
  }
  assert.match(inspect.stdout(), /"nextPosition": ?30/)
  // A writer cannot make its ring there: a clear error, not a wait.
  await assert.rejects(Journal.open(dir), (error: { code?: string }) => typeof error.code === 'string' && error.code.startsWith('ERR_'))
})

test("the last segment's time index and the ring deleted after a kill, in a journal of several segments: its entries get no later time, and times never decrease across segments", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 150, { journal: { segmentBytes: 4096 }, paceMs: 1 })
  await killed(child)
  const bounds = boundsOf(child)
  const indexes = readdirSync(dir).filter((name) => name.endsWith('.timeindex')).sort()
  assert.ok(indexes.length >= 3, `${indexes.length} segments`)
  rmSync(join(dir, indexes.at(-1)!))
  rmSync(join(dir, TIME_RING_NAME))
  const reopened = await Journal.open(dir, { segmentBytes: 4096 })
  await reopened.close()
  const entries = await readAll(dir)
  assert.equal(entries.length, 150)
  checkNoLaterTimes(entries, bounds, 'after the reopening')
  // A reader starting in the last segment, and seeks by time, agree.
  const last = Number(indexes.at(-1)!.slice(0, 20))
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  assert.deepEqual(
    [...reader.read({ from: last })].map(({ position, time }) => ({ position, time })),
    entries.slice(last),
  )
  const lastTime = entries[last]!.time
  assert.equal(reader.read({ from: { time: lastTime } }).next().value?.time, lastTime)
})
