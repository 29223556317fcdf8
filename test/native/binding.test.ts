import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import * as native from '../../src/native/binding.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

test('map, write through the mapping, unmap detaches the buffer', (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  native.fallocate(fd, 0, native.pageSize)
  assert.equal(statSync(path).size, native.pageSize)
  const mapping = native.map(fd, native.pageSize * 4, true)
  const bytes = new Uint8Array(mapping)
  bytes.set([1, 2, 3], 10)
  native.msync(mapping, 0, native.pageSize, true)
  assert.deepEqual([...readFileSync(path).subarray(10, 13)], [1, 2, 3])
  native.unmap(mapping)
  assert.equal(mapping.byteLength, 0)
  assert.equal(bytes.length, 0)
  assert.equal(bytes[10], undefined)
  assert.throws(() => bytes.set([1], 0), TypeError)
  native.unmap(mapping) // idempotent
})

test('errors carry errno, syscall and code', (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  closeSync(fd)
  assert.throws(() => native.fdatasync(fd), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'EBADF')
    assert.equal(error.syscall, 'fdatasync')
    return true
  })
})

test('async calls settle on the pool', async (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  await native.allocateAsync(fd, 0, 8192, false).done
  assert.equal(statSync(path).size, 8192)
  await native.fdatasyncAsync(fd)
  await assert.rejects(native.fdatasyncAsync(-1 >>> 0), { code: 'EBADF' })
})

test('an allocation on the pool can be waited for on this thread, with the same result', async (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  const { done, handle } = native.allocateAsync(fd, 0, 1 << 20, true)
  assert.equal(native.waitAllocation(handle), 0)
  // Once it has returned, the file is as long as asked and every byte of it is a zero.
  assert.equal(statSync(path).size, 1 << 20)
  assert.equal(await done, 0)
  assert.equal(native.waitAllocation(handle), 0, 'waiting again answers the same')
  const failed = native.allocateAsync(-1 >>> 0, 0, 4096, true)
  assert.throws(() => native.waitAllocation(failed.handle), { code: 'EBADF' })
  await assert.rejects(failed.done, { code: 'EBADF' })
  assert.throws(() => native.waitAllocation({} as never), TypeError)
})

test('zero fill writes zeros over the whole range; without it, data already there stays', (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, Buffer.alloc(8192, 7))
  native.allocate(fd, 0, 16384, false)
  assert.deepEqual(readFileSync(path).subarray(0, 8192), Buffer.alloc(8192, 7))
  assert.equal(statSync(path).size, 16384)
  native.allocate(fd, 4096, 8192, true)
  const bytes = readFileSync(path)
  assert.deepEqual(bytes.subarray(0, 4096), Buffer.alloc(4096, 7))
  assert.deepEqual(bytes.subarray(4096, 16384), Buffer.alloc(12288))
})

test('flock excludes a second open file description', (t) => {
  const path = join(tmpDir(t), 'f')
  const a = openSync(path, 'w+')
  const b = openSync(path, 'r+')
  t.after(() => {
    closeSync(a)
    closeSync(b)
  })
  native.flock(a, native.lock.exclusive | native.lock.nonBlocking)
  assert.throws(() => native.flock(b, native.lock.exclusive | native.lock.nonBlocking), { code: /^(EWOULDBLOCK|EAGAIN)$/ })
  native.flock(a, native.lock.unlock)
  native.flock(b, native.lock.exclusive | native.lock.nonBlocking)
})

test('futex wake on a word with no waiter wakes nobody, and guards its index', () => {
  // The library makes no futex wait (a wait on the pool could hold a pool thread forever); it
  // wakes, for other programs that sleep on the sidecar's commitSequence.
  const words = new Int32Array(new SharedArrayBuffer(8))
  assert.equal(native.futexWake(words, 1), 0)
  assert.throws(() => native.futexWake(words, 2), RangeError)
  assert.throws(() => native.futexWake(new Int32Array(0), 0), RangeError)
  assert.equal('futexWait' in native, false)
  assert.equal('futexWaitAsync' in native, false)
})

test('pread reads a range into a view at an offset, 0 at the end, and guards the bounds', (t) => {
  const path = join(tmpDir(t), 'f')
  writeFileSync(path, 'hello, world')
  const fd = openSync(path, 'r')
  t.after(() => closeSync(fd))
  const backing = new Uint8Array(16)
  const target = backing.subarray(2, 12)
  assert.equal(native.pread(fd, target, 1, 5, 7), 5)
  assert.equal(Buffer.from(backing.subarray(3, 8)).toString(), 'world')
  assert.equal(backing[2], 0)
  assert.equal(native.pread(fd, target, 0, 4, 10), 2, 'short at the end of the file')
  assert.equal(native.pread(fd, target, 0, 4, 12), 0, 'nothing past it')
  assert.throws(() => native.pread(fd, target, 8, 3, 0), RangeError)
  assert.throws(() => native.pread(fd, target, -1, 1, 0), RangeError)
  assert.throws(() => native.pread(fd, target, 0, 1, -1), RangeError)
  assert.throws(() => native.pread(-1 >>> 0, target, 0, 1, 0), { code: 'EBADF', syscall: 'pread' })
})
