import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import {
  AppendOnlyFile,
  ErrorCode,
  FileState,
  MAGIC_CHECKPOINT,
  MAGIC_TAIL,
  Manager,
  RecoveryKind,
  RecoveryReadOnly,
  isAofkitError,
} from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const tailBytes = Buffer.alloc(8)
tailBytes.writeBigUInt64LE(MAGIC_TAIL)
const checkpointBytes = Buffer.alloc(8)
checkpointBytes.writeBigUInt64LE(MAGIC_CHECKPOINT)

function code(expected: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isAofkitError(error), `expected an AofkitError, got ${String(error)}`)
    assert.equal(error.code, expected)
    return true
  }
}

function fresh(t: TestContext, options: Parameters<Manager['open']>[1] = {}) {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  return { manager, file: manager.open('data.aof', { create: true, ...options }) }
}

test('write appends bytes followed by the MagicTail, zeros after', (t) => {
  const { manager, file } = fresh(t)
  assert.equal(file.state, FileState.Opened)
  assert.equal(file.write(Buffer.from('hello')), 5)
  assert.equal(file.write(new Uint8Array([0, 0, 1])), 3)
  assert.equal(file.size, 8)
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.ok(raw.length >= file.fileSize) // background growth may already be ahead
  assert.deepEqual(raw.subarray(0, 8), Buffer.from([104, 101, 108, 108, 111, 0, 0, 1]))
  assert.deepEqual(raw.subarray(8, 16), tailBytes)
  assert.ok(raw.subarray(16).every((byte) => byte === 0))
  assert.deepEqual(Buffer.from(file.contents()), raw.subarray(0, 8))
  assert.deepEqual(Buffer.from(file.contents(5, 8)), Buffer.from([0, 0, 1]))
})

test('an empty write commits nothing new and keeps the tail', (t) => {
  const { file } = fresh(t)
  file.write(Buffer.from('ab'))
  assert.equal(file.write(new Uint8Array(0)), 0)
  assert.equal(file.size, 2)
})

test('the file grows by the geometry as writes need room, never past sizeUpper', (t) => {
  const { file } = fresh(t, { geometry: { sizeNow: 4096, sizeUpper: 64 * 1024, growthStep: 8192 } })
  assert.equal(file.fileSize >= 4096, true)
  const record = Buffer.alloc(1000, 7)
  let written = 0
  for (;;) {
    try {
      file.write(record)
      written++
    } catch (error) {
      assert.ok(code(ErrorCode.Full)(error))
      break
    }
  }
  assert.equal(written, Math.floor((64 * 1024 - 8) / 1000))
  assert.equal(file.size, written * 1000)
  assert.ok(file.fileSize <= 64 * 1024)
  // A failed write wrote nothing; smaller writes that fit still work.
  assert.equal(file.write(Buffer.alloc(10, 1)), 10)
})

test('ERR_AOF_FULL says what to do, and reopening with a larger sizeUpper lets writes go on', async (t) => {
  const { manager, file } = fresh(t, { geometry: { sizeNow: 4096, sizeUpper: 16 * 1024, growthStep: 4096 } })
  file.write(Buffer.alloc(16 * 1024 - 8, 1))
  for (const write of [() => file.write(Buffer.from('x')), () => file.writeNonBlocking(Buffer.from('x')), () => file.append(1, () => 1)]) {
    assert.throws(write, (error) => code(ErrorCode.Full)(error) && /reopen it with a larger geometry\.sizeUpper .*; or use a Journal, which has no size limit$/.test((error as Error).message))
  }
  await file.close()
  const again = manager.open('data.aof', { geometry: { sizeUpper: 32 * 1024 } })
  assert.equal(again.write(Buffer.from('more')), 4)
  assert.equal(again.size, 16 * 1024 - 8 + 4)
})

test('growth is real allocation, not a sparse file', (t) => {
  const { manager, file } = fresh(t, { geometry: { sizeUpper: 8 * 1024 * 1024, growthStep: 1024 * 1024 } })
  file.write(Buffer.alloc(3 * 1024 * 1024, 1))
  const stat = statSync(join(manager.dir, 'data.aof'))
  assert.ok(stat.blocks * 512 >= stat.size, `allocated ${stat.blocks * 512} of ${stat.size}`)
})

test('writeNonBlocking throws ERR_AOF_WOULD_BLOCK when the file must grow, and growth follows', async (t) => {
  const { file } = fresh(t, { geometry: { sizeNow: 4096, sizeUpper: 1024 * 1024, growthStep: 4096 } })
  const record = Buffer.alloc(1024, 3)
  let wouldBlock = 0
  let written = 0
  for (let attempt = 0; attempt < 10_000 && written < 200; attempt++) {
    try {
      file.writeNonBlocking(record)
      written++
    } catch (error) {
      assert.ok(code(ErrorCode.WouldBlock)(error))
      wouldBlock++
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  assert.equal(written, 200)
  assert.ok(wouldBlock > 0, 'a 4 KiB start must block at least once')
  assert.equal(file.size, 200 * 1024)
  assert.ok(Buffer.from(file.contents()).equals(Buffer.alloc(200 * 1024, 3)))
})

test('append fills a view of the mapping and commits what fn used', (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.from('ab'))
  const used = file.append(24, (event) => {
    assert.equal(event.begin, 2)
    assert.equal(event.end, 26)
    assert.equal(event.tail.length, 24)
    assert.deepEqual(Buffer.from(event.file()), Buffer.from('ab'))
    event.tail.set(Buffer.from('cdefghijklmnopqrstuvwxyz'))
    return 4
  })
  assert.equal(used, 4)
  assert.equal(file.size, 6)
  assert.deepEqual(Buffer.from(file.contents()), Buffer.from('abcdef'))
  // Bytes it scribbled past what it used are gone: the MagicTail follows the data, then zeros
  // up to where the reservation ended.
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.deepEqual(raw.subarray(6, 14), tailBytes)
  assert.deepEqual([...raw.subarray(14, 26)], new Array<number>(12).fill(0))
})

test('append clamps what fn returns to 0..reserve', (t) => {
  const { file } = fresh(t)
  assert.equal(file.append(3, (e) => (e.tail.fill(1), 99)), 3)
  assert.equal(file.append(3, (e) => (e.tail.fill(2), -5)), 0)
  assert.equal(file.append(3, (e) => (e.tail.fill(2), Number.NaN)), 0)
  assert.equal(file.append(3, (e) => (e.tail.fill(4), 1.9)), 1)
  assert.deepEqual([...file.contents()], [1, 1, 1, 4])
})

test('a throwing append function writes nothing and leaves the file usable', (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.from('keep'))
  assert.throws(
    () =>
      file.append(16, (event) => {
        event.tail.fill(9)
        throw new Error('boom')
      }),
    /boom/,
  )
  assert.equal(file.size, 4)
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.deepEqual(raw.subarray(4, 12), tailBytes)
  assert.ok(raw.subarray(12, 64).every((byte) => byte === 0))
  file.write(Buffer.from('!'))
  assert.equal(Buffer.from(file.contents()).toString(), 'keep!')
})

test('append validates its arguments', (t) => {
  const { file } = fresh(t, { geometry: { sizeUpper: 64 * 1024 } })
  assert.throws(() => file.append(4, undefined as never), code(ErrorCode.AppendFuncMissing))
  for (const reserve of [-1, 1.5, Number.NaN, '4' as unknown as number, Infinity]) {
    assert.throws(() => file.append(reserve, () => 0), code(ErrorCode.InvalidArgument))
  }
  assert.throws(() => file.append(64 * 1024, () => 0), code(ErrorCode.InvalidArgument))
  assert.throws(
    () => file.append(4, () => file.write(Buffer.from('x'))),
    code(ErrorCode.InvalidArgument),
  )
  assert.equal(file.size, 0)
})

test('write validates its argument and writes nothing on bad input', (t) => {
  const { file } = fresh(t)
  for (const bad of ['text', 42, null, undefined, [1, 2], new ArrayBuffer(4)]) {
    assert.throws(() => file.write(bad as never), code(ErrorCode.InvalidArgument))
  }
  assert.equal(file.size, 0)
})

test('checkpoint writes MagicCheckpoint into the stream and returns its offset', (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.from('abc'))
  assert.equal(file.checkpoint(), 3)
  assert.equal(file.size, 11)
  assert.equal(file.lastCheckpoint, 3)
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.deepEqual(raw.subarray(3, 11), checkpointBytes)
  assert.deepEqual(raw.subarray(11, 19), tailBytes)
})

test('sync resolves and concurrent callers share fdatasync calls', async (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.from('durable'))
  await file.sync()
  const before = manager.stats().syncs
  const waits: Promise<void>[] = []
  for (let i = 0; i < 50; i++) {
    file.write(Buffer.from([i]))
    waits.push(file.sync())
  }
  await Promise.all(waits)
  const syncs = manager.stats().syncs - before
  assert.ok(syncs >= 1 && syncs <= 2, `50 concurrent syncs took ${syncs} fdatasync calls`)
  await file.sync() // nothing new: no call needed
  assert.equal(manager.stats().syncs - before, syncs)
})

test('flush starts write-back and resolves', async (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.alloc(10_000, 5))
  await file.flush()
  assert.equal(manager.stats().flushes, 1)
})

test('finish writes MagicCheckpoint, truncates, makes the file read-only and enters EOF', async (t) => {
  const { manager, file } = fresh(t)
  const path = join(manager.dir, 'data.aof')
  file.write(Buffer.from('final'))
  await file.finish()
  assert.equal(file.state, FileState.EOF)
  assert.equal(file.size, 5)
  assert.equal(file.fileSize, 13)
  const raw = readFileSync(path)
  assert.equal(raw.length, 13)
  assert.deepEqual(raw.subarray(5), checkpointBytes)
  assert.equal(statSync(path).mode & 0o222, 0)
  assert.throws(() => file.write(Buffer.from('x')), code(ErrorCode.ReadOnly))
  await file.finish() // idempotent
  assert.deepEqual(Buffer.from(file.contents()).toString(), 'final')
  await file.close()
  const again = manager.open('data.aof')
  assert.equal(again.state, FileState.EOF)
  assert.equal(again.size, 5)
  assert.equal(again.recovery.outcome, RecoveryKind.Checkpoint)
  assert.equal(Buffer.from(again.contents()).toString(), 'final')
})

test('close: further calls throw ERR_AOF_CLOSED, views become empty, close is idempotent', async (t) => {
  const { file } = fresh(t)
  file.write(Buffer.from('x'))
  const view = file.contents()
  const closing = file.close()
  assert.equal(file.state, FileState.Closing)
  await closing
  assert.equal(file.state, FileState.Closed)
  assert.equal(view.length, 0)
  assert.throws(() => file.write(Buffer.from('y')), code(ErrorCode.Closed))
  assert.throws(() => file.append(1, () => 1), code(ErrorCode.Closed))
  assert.throws(() => file.checkpoint(), code(ErrorCode.Closed))
  assert.throws(() => file.contents(), code(ErrorCode.Closed))
  await assert.rejects(file.sync(), code(ErrorCode.Closed))
  await assert.rejects(file.flush(), code(ErrorCode.Closed))
  await assert.rejects(file.finish(), code(ErrorCode.Closed))
  await file.close()
})

test('reopening restores exactly the data; writes continue after it', async (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.from('one,'))
  file.checkpoint()
  file.write(Buffer.from('two'))
  await file.close()
  const again = manager.open('data.aof')
  assert.equal(again.recovery.outcome, RecoveryKind.Tail)
  assert.equal(again.size, 15)
  assert.equal(again.recovery.checkpoint, 4)
  assert.equal(again.lastCheckpoint, 4)
  again.write(Buffer.from('!'))
  await again.close()
  const third = manager.open('data.aof')
  assert.equal(Buffer.from(third.contents(12)).toString(), 'two!')
})

test('open options are validated', (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  assert.throws(() => manager.open('', { create: true }), code(ErrorCode.InvalidArgument))
  assert.throws(() => manager.open('x', 'nope' as never), code(ErrorCode.InvalidArgument))
  assert.throws(() => manager.open('x', { create: 'yes' as never }), code(ErrorCode.InvalidArgument))
  for (const sizeNow of [-1, 1.5, Number.NaN, '4096']) {
    assert.throws(
      () => manager.open('x', { create: true, geometry: { sizeNow: sizeNow as number } }),
      code(ErrorCode.InvalidArgument),
    )
  }
  assert.throws(() => manager.open('missing'), code(ErrorCode.NotFound))
  assert.throws(() => manager.open('.', { create: true }), code(ErrorCode.IsDirectory))
})

test('an existing file larger than an explicit sizeUpper is ERR_AOF_SHRINK', async (t) => {
  const { manager, file } = fresh(t)
  file.write(Buffer.alloc(100_000, 1))
  await file.close()
  assert.throws(() => manager.open('data.aof', { geometry: { sizeUpper: 8192 } }), code(ErrorCode.Shrink))
  const again = manager.open('data.aof')
  assert.equal(again.size, 100_000)
})

test('a corrupt tail without a sidecar is ERR_AOF_CORRUPTED, or cut back with repair', (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const path = join(dir, 'foreign.aof')
  writeFileSync(path, Buffer.concat([Buffer.from('good'), checkpointBytes, Buffer.from('torn'), Buffer.alloc(100)]))
  assert.throws(() => manager.open('foreign.aof'), (error) => {
    assert.ok(code(ErrorCode.Corrupted)(error))
    assert.equal((error as { recovery: { outcome: number } }).recovery.outcome, RecoveryKind.Corrupted)
    return true
  })
  const readOnly = manager.open('foreign.aof', { recovery: RecoveryReadOnly })
  assert.equal(readOnly.state, FileState.EOF)
  assert.equal(readOnly.size, 12)
  assert.ok(readFileSync(path).subarray(12, 16).equals(Buffer.from('torn')), 'read-only recovery changed nothing')
})

test('repair cuts a corrupt tail back to the last checkpoint', async (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const path = join(dir, 'foreign.aof')
  writeFileSync(path, Buffer.concat([Buffer.from('good'), checkpointBytes, Buffer.from('torn'), Buffer.alloc(100)]))
  const file = manager.open('foreign.aof', { recovery: { repair: true } })
  assert.equal(file.recovery.source, 'repair')
  assert.equal(file.recovery.cutBytes, 4)
  assert.equal(file.size, 12)
  file.write(Buffer.from('more'))
  await file.close()
  const raw = readFileSync(path)
  assert.deepEqual(raw.subarray(0, 16), Buffer.concat([Buffer.from('good'), checkpointBytes, Buffer.from('more')]))
})

test('a custom recovery function decides the tail; a throwing one is ERR_AOF_CORRUPTED', async (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const file = manager.open('f', { create: true })
  file.write(Buffer.from('abcdef'))
  await file.close()
  let seen = -1
  const custom = manager.open('f', {
    recovery: (fileSize, _bytes, magic) => {
      seen = fileSize
      return { magic, outcome: RecoveryKind.Tail, fileSize, checkpoint: -1, tail: 6 }
    },
  })
  assert.ok(seen >= 14)
  assert.equal(custom.size, 6)
  await custom.close()
  assert.throws(
    () =>
      manager.open('f', {
        recovery: () => {
          throw new Error('no')
        },
      }),
    code(ErrorCode.Corrupted),
  )
})

test('AppendOnlyFile.open uses the default manager: same path, same instance', async (t) => {
  const path = join(tmpDir(t), 'default.aof')
  const a = AppendOnlyFile.open(path, { create: true })
  const b = AppendOnlyFile.open(path)
  assert.equal(a, b)
  // Two opens, two closes: the first leaves the file open for the other caller.
  await a.close()
  assert.equal(b.write(Buffer.from('b')), 1)
  await b.close()
  const c = AppendOnlyFile.open(path)
  assert.notEqual(c, a)
  await c.close()
})

test('appendFill writes exactly its bytes; a throwing fill writes nothing', (t) => {
  const { manager, file } = fresh(t)
  file.appendFill(3, (target, at) => target.set([1, 2, 3], at))
  assert.throws(
    () =>
      file.appendFill(16, (target, at) => {
        target.fill(9, at, at + 16)
        throw new Error('boom')
      }),
    /boom/,
  )
  assert.throws(() => file.appendFill(-1, () => undefined), code(ErrorCode.InvalidArgument))
  assert.equal(file.size, 3)
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.deepEqual(raw.subarray(0, 3), Buffer.from([1, 2, 3]))
  assert.deepEqual(raw.subarray(3, 11), tailBytes)
  assert.ok(raw.subarray(11, 64).every((byte) => byte === 0))
})

test('a synchronous burst through many growths, then at once finish and close: data intact', async (t) => {
  // Growth inside a burst prefaults the new pages on the thread pool; finish and close must
  // wait for that work before truncating and unmapping.
  const { manager, file } = fresh(t, { geometry: { sizeNow: 4096, growthStep: 4096, sizeUpper: 64 * 1024 * 1024 } })
  const record = new Uint8Array(1000)
  for (let index = 0; index < 20000; index++) {
    record.fill(index & 0xff)
    file.write(record)
  }
  await file.finish()
  await file.close()
  const raw = readFileSync(join(manager.dir, 'data.aof'))
  assert.equal(raw.length, 20000 * 1000 + 8)
  for (let index = 0; index < 20000; index += 997) assert.equal(raw[index * 1000 + 500], index & 0xff)
  assert.deepEqual(raw.subarray(20000 * 1000), checkpointBytes)
})
