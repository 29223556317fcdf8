/**
 * The time ring (times-shm) under hostile conditions: writers killed with SIGKILL at each step
 * around the time index file's writes, readers in other processes and threads reading while
 * the writer wraps the ring, rolls and retention, rings damaged, replaced or from elsewhere,
 * power cuts after sync(). Every entry's time must lie between the writer's clock readings
 * taken just before and just after its append, and never decrease.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import type { JournalReader } from '../../src/index.ts'
import { timeIndexPath } from '../../src/journal/layout.ts'
import { readIndex } from '../../src/journal/sparse-index.ts'
import { TIME_RING_NAME } from '../../src/journal/time-ring.ts'
import { aof } from '../cli/fixtures.ts'
import { powerLossDisk, runUntilPowerCut } from '../helpers/power-loss.ts'
import { boundsIn, boundsOf, checkSeeks, checkTimes, killed, readAll, readersInWorkers, take, writer, writerDone } from '../helpers/time-ring-checks.ts'
import type { Timed } from '../helpers/time-ring-checks.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { until } from '../helpers/until.ts'

/** The time index file's records of the segment at `base`. */
function fileTimes(dir: string, base = 0): Timed[] {
  const { first, second } = readIndex(timeIndexPath(dir, base))
  return first.map((time, k) => ({ time, position: second[k]! }))
}

/** Follows `reader` from the start in the background, up to position `last`: what it got so far, and its end. */
function followInBackground(reader: JournalReader, last: number): { followed: Timed[]; following: Promise<void> } {
  const followed: Timed[] = []
  const following = (async () => {
    for await (const entry of reader.follow({ from: 0 })) {
      followed.push({ position: entry.position, time: entry.time })
      if (entry.position === last) break
    }
  })()
  return { followed, following }
}

for (const damage of ['deleted', 'truncated', 'replaced'] as const) {
  test(`times-shm ${damage} under a live writer is made again by its next sync(): readers opened before and after give each entry its own time`, async (t) => {
    const dir = join(tmpDir(t), 'journal')
    const child = await writerDone(t, dir, 40, { resume: 20 })
    // A reader that mapped the ring before the damage, and reads on after the repair.
    const early = await Journal.openReader(dir)
    t.after(() => early.close())
    const entries = early.read({ from: 0 })
    const read = take(entries, 40)
    const ring = join(dir, TIME_RING_NAME)
    if (damage === 'deleted') rmSync(ring)
    else if (damage === 'truncated') truncateSync(ring, 0)
    else {
      writeFileSync(`${ring}.other`, readFileSync(ring))
      renameSync(`${ring}.other`, ring)
    }
    child.process.stdin!.write('go\n')
    await child.waitFor('M;')
    for (const { position, time } of entries) read.push({ position, time })
    const bounds = boundsOf(child)
    assert.equal(read.length, 60)
    checkTimes(read, bounds, `a reader opened before the ring was ${damage}`)
    checkTimes(await readAll(dir), bounds, `a reader opened after the ring was ${damage}`)
  })
}

// Renamed away, the old file keeps its link: the reader must still tell that the path names another ring.
for (const gone of ['deleted', 'renamed away'] as const) {
  test(`a read() begun before a writer's restart, with times-shm ${gone} meanwhile, gives the new writer's entries their own times`, async (t) => {
    const dir = join(tmpDir(t), 'journal')
    const first = await writerDone(t, dir, 50)
    const reader = await Journal.openReader(dir)
    t.after(() => reader.close())
    const entries = reader.read({ from: 0 })
    const read = take(entries, 50)
    await killed(first)
    const ring = join(dir, TIME_RING_NAME)
    if (gone === 'deleted') rmSync(ring)
    else renameSync(ring, `${ring}.old`)
    const second = await writerDone(t, dir, 50)
    for (const { position, time } of entries) read.push({ position, time })
    assert.equal(read.length, 100)
    checkTimes(read, boundsOf(first, second), 'the read across the restart')
  })
}

test("a ring copied in from another journal directory does not give this journal's entries the other's times", async (t) => {
  const root = tmpDir(t)
  const mine = join(root, 'mine')
  const other = join(root, 'other')
  // This journal's writer dies with its newest times only in its ring (no flush yet).
  const first = await writerDone(t, mine, 40)
  const bounds = boundsOf(first)
  await killed(first)
  // Another journal, written later, with entries at the same positions.
  const second = await writerDone(t, other, 60)
  await killed(second)
  copyFileSync(join(other, TIME_RING_NAME), join(mine, TIME_RING_NAME))
  const reopened = await Journal.open(mine)
  await reopened.close()
  const entries = await readAll(mine)
  assert.equal(entries.length, 40)
  // What the ring lost cannot be had back, but no entry may get a time after its append.
  for (const { position, time } of entries) assert.ok(time <= bounds.get(position)![1], `entry ${position}: time ${time}, appended by ${bounds.get(position)![1]}`)
})

for (const when of ['before', 'torn', 'after'] as const) {
  for (const write of [1, 2]) {
    test(`a writer killed ${when} its time index write #${write}: readers, seeks and the reopening keep each entry's time`, async (t) => {
      const dir = join(tmpDir(t), 'journal')
      const child = writer(dir, 64 * 3 + 10, { kill: { write, when } })
      t.after(() => killed(child))
      const { signal } = await child.exited
      assert.equal(signal, 'SIGKILL', child.stderr())
      assert.match(child.stdout(), /K;$/)
      const bounds = boundsOf(child)
      // Before any writer reopens: the ring has what the file lacks.
      const before = await readAll(dir)
      assert.equal(before.length, bounds.size, 'entries acknowledged')
      checkTimes(before, bounds, 'before the reopening')
      await checkSeeks(dir, before, 'before the reopening')
      const reopened = await Journal.open(dir)
      const after = [...reopened.read()].map(({ position, time }) => ({ position, time }))
      await reopened.close()
      assert.deepEqual(after, before)
      assert.deepEqual(await readAll(dir), before)
      await checkSeeks(dir, before, 'after the reopening')
      // The time index file holds one record per entry (each had a millisecond of its own).
      assert.deepEqual(fileTimes(dir), before.slice(0, fileTimes(dir).length))
      assert.equal(fileTimes(dir).length, before.length)
    })
  }
}

test('readers in a worker thread and in the main thread, lagging, while the writer wraps the ring: each entry gets its own time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const count = 600
  const child = writer(dir, count, { paceMs: 1 })
  t.after(() => killed(child))
  await child.waitFor('R;')
  const results = readersInWorkers(t, dir, count, [1, 2])
  // A follower in this thread, lagging now and then.
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const followed: Timed[] = []
  for await (const entry of reader.follow({ from: 0 })) {
    followed.push({ position: entry.position, time: entry.time })
    if (entry.position % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 150))
    if (entry.position === count - 1) break
  }
  await child.waitFor('D;')
  const bounds = boundsOf(child)
  checkTimes(followed, bounds, 'the follower')
  for (const [k, result] of results.entries()) {
    const seen = await result
    for (const [position, time] of seen) {
      const bound = bounds.get(position)!
      assert.ok(time >= bound[0] && time <= bound[1], `worker ${k}: entry ${position} has time ${time}, appended within [${bound[0]}, ${bound[1]}]`)
    }
  }
})

/** Rewrites the ring of `dir` (no writer running): `edit` gets its 32-bit words. */
function editRing(dir: string, edit: (words: Uint32Array) => void): void {
  const path = join(dir, TIME_RING_NAME)
  const bytes = new Uint8Array(readFileSync(path))
  edit(new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4)))
  writeFileSync(path, bytes)
}

test("the ring's 32-bit count wrapping around: readers and the reopening keep each entry's time", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const first = writer(dir, 20, { exit: true })
  await first.waitFor('D;')
  await first.exited
  // The count 5 short of 2^32, the slots emptied (every record is in the file after the close).
  editRing(dir, (words) => {
    words[2] = 2 ** 32 - 5
    words.fill(0, 16)
  })
  const second = await writerDone(t, dir, 300)
  const bounds = boundsOf(first, second)
  const live = await readAll(dir)
  assert.equal(live.length, 320)
  checkTimes(live, bounds, 'across the wrap')
  await checkSeeks(dir, live, 'across the wrap')
  assert.ok(fileTimes(dir).length < 320, 'some records only in the ring')
  await killed(second)
  const reopened = await Journal.open(dir)
  await reopened.close()
  assert.deepEqual(await readAll(dir), live)
  assert.deepEqual(fileTimes(dir), live)
})

test('rolls and retention while a reader in another process follows, then a kill and a reopening: each entry keeps its time', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const count = 300
  // The event loop turns every 10 appends: a roll finishes the old segment in the background.
  const child = writer(dir, count, { journal: { segmentBytes: 4096, retention: { maxSegments: 8 } }, paceMs: 1 })
  t.after(() => killed(child))
  await child.waitFor('R;')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const followed: Timed[] = []
  for await (const entry of reader.follow({ from: 0, onTruncated: () => undefined })) {
    followed.push({ position: entry.position, time: entry.time })
    if (entry.position === count - 1) break
  }
  await child.waitFor('D;')
  const bounds = boundsOf(child)
  assert.ok(followed.length > count / 2, `${followed.length} entries followed`)
  checkTimes(followed, bounds, 'the follower')
  await killed(child)
  const kept = await readAll(dir)
  checkTimes(kept, bounds, 'after the kill')
  const reopened = await Journal.open(dir, { segmentBytes: 4096, retention: { maxSegments: 8 } })
  await reopened.close()
  // The reopening's retention may delete more segments: what is left keeps its times.
  const left = await readAll(dir)
  assert.ok(left.length > 0)
  assert.deepEqual(left, kept.slice(kept.length - left.length))
  await checkSeeks(dir, left, 'after the reopening')
})

test("a follower in another process across a writer's SIGKILL and restart gets each entry's time", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const first = writer(dir, 150)
  t.after(() => killed(first))
  await first.waitFor('R;')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const { followed, following } = followInBackground(reader, 299)
  await first.waitFor('D;')
  await until(() => followed.length >= 150, 'the first writer\'s entries followed')
  await killed(first)
  const second = await writerDone(t, dir, 150)
  await following
  const bounds = boundsOf(first, second)
  checkTimes(followed, bounds, 'the follower')
  await killed(second)
  const all = await readAll(dir)
  assert.equal(all.length, 300)
  checkTimes(all, bounds, 'after the second kill')
  await checkSeeks(dir, all, 'after the second kill')
})

test('a power cut after sync(): every synced entry keeps its own time, and no entry gets a later one', { timeout: 120_000 }, async (t) => {
  const disk = await powerLossDisk(t)
  if (disk === null) return
  const dir = join(disk.dir, 'journal')
  const run = await runUntilPowerCut(disk, 'time-ring-writer.ts', [dir, '5000', JSON.stringify({ syncEvery: 25 })], { ready: 'S25;', delayMs: 600 })
  let synced = 0
  for (const match of run.stdout.matchAll(/S(\d+);/g)) synced = Math.max(synced, Number(match[1]))
  const bounds = boundsIn(run.stdoutAll)
  const check = (entries: readonly Timed[], what: string): void => {
    assert.ok(entries.length >= synced, `${what}: ${entries.length} entries, ${synced} synced`)
    checkTimes(entries.slice(0, synced), bounds, `${what}, synced entries`)
    let last = -1
    for (const { position, time } of entries) {
      const bound = bounds.get(position)
      if (bound !== undefined) assert.ok(time <= bound[1], `${what}: entry ${position} has time ${time}, appended by ${bound[1]}`)
      assert.ok(time >= last, `${what}: entry ${position}'s time ${time} is before ${last}`)
      last = time
    }
  }
  const before = await readAll(dir)
  check(before, 'before the reopening')
  const reopened = await Journal.open(dir)
  await reopened.close()
  const after = await readAll(dir)
  check(after, 'after the reopening')
  await checkSeeks(dir, after.slice(0, synced), 'after the reopening')
})

for (const end of ['close', 'SIGKILL'] as const) {
test(`a follower across a writer's restart (after a ${end}) with times-shm deleted meanwhile (a journal without a ring, which the writer makes again) gets each entry's time`, async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const first = writer(dir, 50, { exit: end === 'close' })
  await first.waitFor('R;')
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  const { followed, following } = followInBackground(reader, 99)
  await first.waitFor('D;')
  await killed(first)
  await until(() => followed.length >= 50, "the first writer's entries followed")
  rmSync(join(dir, TIME_RING_NAME))
  const second = await writerDone(t, dir, 50)
  await following
  checkTimes(followed, boundsOf(first, second), 'the follower')
})
}

/** Damage done to the ring of a journal whose writer was killed with its newest times only there. */
const DAMAGE: Record<string, (dir: string) => void> = {
  'cut to nothing': (dir) => truncateSync(join(dir, TIME_RING_NAME), 0),
  'cut inside its slots': (dir) => truncateSync(join(dir, TIME_RING_NAME), 100),
  'grown to 8 KiB': (dir) => truncateSync(join(dir, TIME_RING_NAME), 8192),
  'with a wrong magic': (dir) => editRing(dir, (words) => (words[0] = 0x12345678)),
  'of another version': (dir) => editRing(dir, (words) => (words[1] = words[1]! + 1)),
  'from another boot': (dir) => editRing(dir, (words) => (words[4] = words[4]! ^ 1)),
  'from another mount': (dir) => editRing(dir, (words) => (words[8] = words[8]! + 1)),
  'of another directory': (dir) => editRing(dir, (words) => (words[10] = words[10]! ^ 1)),
  'with a count far past its records': (dir) => editRing(dir, (words) => (words[2] = words[2]! + 1000)),
}

for (const [name, damage] of Object.entries(DAMAGE)) {
  test(`a ring ${name} after a kill: the reopening gives no entry a later time, keeps times in order, and writes on`, async (t) => {
    const dir = join(tmpDir(t), 'journal')
    const child = await writerDone(t, dir, 100)
    await killed(child)
    const bounds = boundsOf(child)
    damage(dir)
    const reopened = await Journal.open(dir)
    let last = -1
    for (const { position, time } of reopened.read()) {
      assert.ok(time <= bounds.get(position)![1], `entry ${position}: time ${time}, appended by ${bounds.get(position)![1]}`)
      assert.ok(time >= last, `entry ${position}: time ${time} before ${last}`)
      last = time
    }
    const before = Date.now()
    const position = reopened.append(new Uint8Array([1]))
    const after = Date.now()
    const time = reopened.read({ from: position }).next().value!.time
    assert.ok(time >= before && time <= after, `the new entry's time ${time}, appended within [${before}, ${after}]`)
    await reopened.close()
    // Readers and the file agree after the close.
    const reader = await Journal.openReader(dir)
    const times = [...reader.read()].map((entry) => entry.time)
    reader.close()
    const file = fileTimes(dir)
    for (const { time: recorded, position: at } of file) assert.equal(times[at], recorded, `the file's record for ${at}`)
    if (name === 'grown to 8 KiB') {
      // Nothing lost: every entry keeps its own time.
      for (const [k, time] of times.slice(0, 100).entries()) assert.ok(time >= bounds.get(k)![0] && time <= bounds.get(k)![1], `entry ${k}: time ${time}`)
    }
  })
}

// Where the file system keeps birth times (a tmpfs does) and where it may not (the test's
// temporary directory): the entries' time then comes from the segment's birth, or from when the
// last writer opened the journal.
for (const where of ['the temporary directory', '/dev/shm'] as const) {
  test(`a segment whose time records are all lost (in ${where}) gives its entries a time before theirs, never a later one`, async (t) => {
    if (where === '/dev/shm' && !existsSync('/dev/shm')) return t.skip('no /dev/shm')
    const root = where === '/dev/shm' ? mkdtempSync('/dev/shm/aofkit-') : tmpDir(t)
    if (where === '/dev/shm') t.after(() => rmSync(root, { recursive: true, force: true }))
    const dir = join(root, 'journal')
    const child = await writerDone(t, dir, 30)
    await killed(child)
    const bounds = boundsOf(child)
    rmSync(timeIndexPath(dir, 0))
    rmSync(join(dir, TIME_RING_NAME))
    const reopened = await Journal.open(dir)
    await reopened.close()
    const entries = await readAll(dir)
    assert.equal(entries.length, 30)
    for (const { position, time } of entries) {
      assert.ok(time > 0 && time <= bounds.get(0)![0], `entry ${position}: time ${time}, the first appended from ${bounds.get(0)![0]}`)
    }
  })
}

test('aof inspect of a journal whose killed writer left its newest times only in the ring reports the first and last entries\' times', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const child = await writerDone(t, dir, 100)
  await killed(child)
  assert.ok(fileTimes(dir).length < 100)
  const entries = await readAll(dir)
  const run = await aof(['inspect', '--json', dir])
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout) as { nextPosition: number; segments: Array<{ firstTime: number; lastTime: number }> }
  assert.equal(report.nextPosition, 100)
  assert.equal(report.segments[0]!.firstTime, entries[0]!.time)
  assert.equal(report.segments[0]!.lastTime, entries[99]!.time)
  const verify = await aof(['verify', dir])
  assert.equal(verify.status, 0, verify.stdout + verify.stderr)
})

test("an append refused after its time was published: readers, seeks and aof inspect do not take that time for the last entry's", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true })
  t.after(() => journal.close())
  journal.append(new Uint8Array([1]))
  const time = [...journal.read()][0]!.time
  const start = Date.now()
  while (Date.now() <= time || Date.now() === start) {
    // A new millisecond: the refused append publishes a time record.
  }
  // Bytes that cannot be read: refused by the record log's fill, after the time was published.
  const unreadable = new Proxy(new Uint8Array(3), {
    get: (target, key) => {
      if (key === 'length') return 3
      if (typeof key === 'string' && /^\d+$/.test(key)) throw new Error('unreadable')
      return Reflect.get(target, key) as unknown
    },
  })
  assert.throws(() => journal.append(unreadable))
  assert.equal(journal.nextPosition, 1)
  const reader = await Journal.openReader(dir)
  t.after(() => reader.close())
  assert.deepEqual(
    [...reader.read()].map((entry) => entry.time),
    [time],
  )
  assert.equal(reader.read({ from: { time: time + 1 } }).next().done, true)
  const run = await aof(['inspect', '--json', dir])
  const report = JSON.parse(run.stdout) as { segments: Array<{ lastTime: number }> }
  assert.equal(report.segments[0]!.lastTime, time, 'the last entry\'s time')
})

test('a writer restarted through a bind mount after a kill: no entry gets a later time, times stay in order (the ring is emptied: documented)', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to bind-mount a directory')
    return
  }
  const root = mkdtempSync(join(tmpdir(), 'aofkit-'))
  const real = join(root, 'real')
  const view = join(root, 'view')
  mkdirSync(real)
  mkdirSync(view)
  execFileSync('mount', ['--bind', real, view], { stdio: 'pipe' })
  t.after(() => {
    execFileSync('umount', ['--lazy', view], { stdio: 'pipe' })
    rmSync(root, { recursive: true, force: true })
  })
  const child = await writerDone(t, join(real, 'journal'), 100)
  await killed(child)
  const bounds = boundsOf(child)
  const before = await readAll(join(real, 'journal'))
  checkTimes(before, bounds, 'before the restart')
  const reopened = await Journal.open(join(view, 'journal'))
  await reopened.close()
  const after = await readAll(join(real, 'journal'))
  let last = -1
  let changed = 0
  for (const { position, time } of after) {
    assert.ok(time <= bounds.get(position)![1] && time >= last, `entry ${position}: time ${time}`)
    if (time !== before[position]!.time) changed++
    last = time
  }
  t.diagnostic(`${changed} of 100 entries read with another time after the restart through the bind mount`)
})

test("a writer whose clock is behind the journal's last time (stepped back between two writers): times never decrease, and the time index stays readable", async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const first = writer(dir, 20, { exit: true })
  await first.exited
  // The last writer's clock an hour ahead: its last record's time moved an hour on.
  const path = timeIndexPath(dir, 0)
  const bytes = readFileSync(path)
  const at = bytes.length - 16
  const ahead = Number(bytes.readBigUInt64LE(at)) + 3_600_000
  bytes.writeBigUInt64LE(BigInt(ahead), at)
  writeFileSync(path, bytes)
  // A journal without a ring (as an earlier version wrote it): the time index is all there is.
  rmSync(join(dir, TIME_RING_NAME))
  const second = writer(dir, 100, { exit: true })
  await second.exited
  const entries = await readAll(dir)
  assert.equal(entries.length, 120)
  let last = -1
  for (const { position, time } of entries) {
    assert.ok(time >= last, `entry ${position}: time ${time} before ${last}`)
    last = time
  }
  assert.equal(fileTimes(dir).length >= 20, true)
  for (const { position, time } of fileTimes(dir)) assert.equal(entries[position]!.time, time)
  // Every record the writer wrote is readable: the file is in order.
  assert.equal(fileTimes(dir).length * 16, readFileSync(path).length)
})
