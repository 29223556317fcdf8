import assert from 'node:assert/strict'
import { existsSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, FileState, Manager, RecoveryReadOnly, STATS_KEYS, isAofkitError } from '../../src/index.ts'
import type { OpenOptions } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const seedStatNames =
  'Creates CreatesDur Opens OpensDur OpenErrors OpenErrorsDur OpenFileCount OpenFileDur OpenFileErrors ' +
  'OpenFileErrorsDur Closes CloseDur ActiveMaps ActiveFileSize ActiveMappedMemory ActiveAnonymousMemory ' +
  'LifetimeMemory Flushes FlushesDur FlushErrors FlushErrorsDur Finishes FinishesDur FinishErrors ' +
  'FinishErrorsDur Syncs SyncsDur SyncErrors SyncErrorsDur Maps MapsDur MapErrors MapErrorsDur Unmaps ' +
  'UnmapsDur UnmapErrors UnmapErrorsDur Finalizes FinalizesDur Truncates TruncatesDur TruncateErrors ' +
  'TruncateErrorsDur Chmods ChmodsDur ChmodErrors ChmodErrorsDur'

test('stats has every counter of the Go aof package, in camelCase, all zero at first', () => {
  const expected = seedStatNames.split(' ').map((name) => name[0]!.toLowerCase() + name.slice(1))
  const stats = new Manager({ flushIntervalMs: 0 }).stats()
  assert.deepEqual(Object.keys(stats), expected)
  assert.deepEqual([...STATS_KEYS], expected)
  for (const value of Object.values(stats)) assert.equal(value, 0)
})

test('stats count creates, opens, maps, syncs, finishes, chmods, closes and gauges', async (t) => {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  const file = manager.open('a', { create: true, geometry: { sizeUpper: 1 << 20 } })
  let stats = manager.stats()
  assert.equal(stats.creates, 1)
  assert.equal(stats.opens, 1)
  assert.equal(stats.openFileCount, 1)
  assert.equal(stats.maps, 1)
  assert.equal(stats.activeMaps, 1)
  assert.equal(stats.activeMappedMemory, 1 << 20)
  assert.equal(stats.lifetimeMemory, 1 << 20)
  assert.ok(stats.activeFileSize >= 4096)
  assert.ok(stats.opensDur > 0)
  // A create is part of its open: never longer (it once counted from the clock's origin).
  assert.ok(stats.createsDur > 0 && stats.createsDur <= stats.opensDur, `${stats.createsDur} <= ${stats.opensDur}`)
  file.write(Buffer.from('x'))
  await file.sync()
  await file.finish()
  assert.throws(() => manager.open('missing'), (error) => isAofkitError(error, ErrorCode.NotFound))
  stats = manager.stats()
  assert.equal(stats.syncs, 2) // the explicit sync and the one finish makes
  assert.equal(stats.finishes, 1)
  assert.equal(stats.chmods, 1)
  assert.ok(stats.truncates >= 1)
  assert.equal(stats.openErrors, 1)
  await file.close()
  stats = manager.stats()
  assert.equal(stats.closes, 1)
  assert.equal(stats.unmaps, 1)
  assert.equal(stats.activeMaps, 0)
  assert.equal(stats.activeMappedMemory, 0)
  assert.equal(stats.activeFileSize, 0)
  await manager.close()
})

test('open returns the same instance for the same name while it is open, and counts the opens', async (t) => {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  const a = manager.open('a', { create: true })
  assert.equal(manager.open('a'), a)
  assert.equal(manager.open(`${manager.dir}/a`), a)
  assert.deepEqual(manager.files(), [a])
  // Three opens: one caller's close() does not break another's write().
  await a.close()
  await a.close()
  assert.equal(a.write(Buffer.from('still open')), 10)
  await a.close()
  assert.equal(a.state, FileState.Closed)
  assert.throws(() => a.write(Buffer.from('x')), (error) => isAofkitError(error, ErrorCode.Closed))
  const b = manager.open('a')
  assert.notEqual(b, a)
  manager.open('a')
  // The manager's close() closes its files whatever opens are left.
  await manager.close()
  assert.equal(b.state, FileState.Closed)
  assert.throws(() => manager.open('a'), (error) => isAofkitError(error, ErrorCode.Closed))
})

test('a second open with options other than the first is refused; the same or none are not', (t) => {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  const geometry = { sizeNow: 8192, sizeUpper: 1024 * 1024 }
  const a = manager.open('a', { create: true, geometry })
  const refused: OpenOptions[] = [
    { geometry: { sizeUpper: 2 * 1024 * 1024 } },
    { geometry: { ...geometry, growthStep: 4096 } },
    { recovery: RecoveryReadOnly },
    { mode: 0o600 },
  ]
  for (const options of refused) {
    assert.throws(() => manager.open('a', options), (error) => isAofkitError(error, ErrorCode.InvalidArgument) && /open already with other/.test(error.message), Object.keys(options).join())
  }
  for (const options of [{}, { create: true }, { geometry }, { geometry: { sizeUpper: 1024 * 1024 } }]) assert.equal(manager.open('a', options), a)
})

test('relative names resolve against the working directory of each call when there is no dir', (t) => {
  const [first, second] = [tmpDir(t), tmpDir(t)]
  const manager = new Manager({ flushIntervalMs: 0 })
  const before = process.cwd()
  t.after(async () => {
    process.chdir(before)
    await manager.close()
  })
  process.chdir(first)
  const a = manager.open('rel.aof', { create: true })
  process.chdir(second)
  assert.equal(manager.dir, realpathSync(second))
  const b = manager.open('rel.aof', { create: true })
  assert.notEqual(b, a)
  assert.equal(b.path, join(realpathSync(second), 'rel.aof'))
  assert.ok(existsSync(join(second, 'rel.aof')))
})

test('a second manager in the same process cannot take the writer lock', async (t) => {
  const dir = tmpDir(t)
  const first = new Manager({ dir, flushIntervalMs: 0 })
  const second = new Manager({ dir, flushIntervalMs: 0 })
  first.open('a', { create: true })
  assert.throws(() => second.open('a'), (error) => isAofkitError(error, ErrorCode.Locked))
  await first.close()
  const reopened = second.open('a')
  assert.equal(reopened.state, FileState.Opened)
  await second.close()
})

test('anonymous files have the same API, in memory, and never grow', async () => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const file = manager.openAnonymous('scratch', 5000)
  assert.equal(file.isAnonymous, true)
  assert.equal(file.fileSize, 8192)
  assert.equal(manager.openAnonymous('scratch', 10), file)
  assert.equal(manager.stats().activeAnonymousMemory, 8192)
  file.write(Buffer.from('abc'))
  file.append(4, (e) => (e.tail.set([1, 2, 3, 4]), 4))
  assert.equal(file.checkpoint(), 7)
  assert.equal(file.size, 15)
  await file.sync()
  await file.flush()
  assert.throws(() => file.write(Buffer.alloc(8192)), (error) => isAofkitError(error, ErrorCode.Full) && /memory-only file never grows/.test(error.message))
  assert.throws(() => file.writeNonBlocking(Buffer.alloc(8192)), (error) => isAofkitError(error, ErrorCode.Full))
  await file.finish()
  assert.equal(file.state, FileState.EOF)
  assert.deepEqual([...file.contents(0, 7)], [97, 98, 99, 1, 2, 3, 4])
  // Opened twice: the second close() closes it.
  await file.close()
  assert.equal(file.state, FileState.EOF)
  await file.close()
  assert.equal(manager.stats().activeAnonymousMemory, 0)
  assert.throws(() => manager.openAnonymous('bad', 0), (error) => isAofkitError(error, ErrorCode.InvalidArgument))
  await manager.close()
})

test('manager options are validated', () => {
  for (const options of [{ writeMode: -1 }, { readMode: 0o10000 }, { flushIntervalMs: -5 }, { dir: '' }]) {
    assert.throws(() => new Manager(options), (error) => isAofkitError(error, ErrorCode.InvalidArgument))
  }
})

test('the background flush runs on the interval', async (t) => {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 10 })
  const file = manager.open('a', { create: true })
  file.write(Buffer.alloc(5000, 1))
  for (let i = 0; i < 100 && manager.stats().flushes === 0; i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(manager.stats().flushes >= 1)
  await manager.close()
})

test('statsFile publishes the statistics for other processes, atomically, and once more at close', async (t) => {
  const { readPublishedStats } = await import('../../src/index.ts')
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0, statsFile: 'app.stats.json', statsIntervalMs: 20 })
  const file = manager.open('a.aof', { create: true })
  file.write(Buffer.from('x'))
  await file.sync()
  // Published every 20 ms: poll until a publication shows the sync.
  const published = (): ReturnType<typeof readPublishedStats> | null => {
    try {
      return readPublishedStats(`${dir}/app.stats.json`)
    } catch {
      return null
    }
  }
  const deadline = Date.now() + 10_000
  while ((published()?.stats.syncs ?? 0) < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  const live = readPublishedStats(`${dir}/app.stats.json`)
  assert.equal(live.pid, process.pid)
  assert.equal(live.closed, false)
  assert.deepEqual(live.files, [`${dir}/a.aof`])
  assert.equal(live.stats.opens, 1)
  assert.equal(live.stats.syncs, 1)
  await manager.close()
  const last = readPublishedStats(`${dir}/app.stats.json`)
  assert.equal(last.closed, true)
  assert.deepEqual(last.files, [])
  assert.equal(last.stats.closes, 1)
  assert.throws(() => readPublishedStats(`${dir}/a.aof`), { code: ErrorCode.InvalidArgument })
  assert.throws(() => new Manager({ statsFile: '' }), { code: ErrorCode.InvalidArgument })
  assert.throws(() => new Manager({ statsIntervalMs: 1 }), { code: ErrorCode.InvalidArgument })
})
