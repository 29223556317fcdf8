// AppendOnlyFile.writeBatch: many records, one call, one commit.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { ErrorCode, MAGIC_TAIL, Manager, isAofkitError } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function fresh(t: TestContext, options: Parameters<Manager['open']>[1] = {}) {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  return manager.open('data.aof', { create: true, ...options })
}

function code(expected: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isAofkitError(error), `expected an AofkitError, got ${String(error)}`)
    assert.equal(error.code, expected)
    return true
  }
}

test('writeBatch appends the records one after the other, then one MagicTail', (t) => {
  const file = fresh(t)
  file.write(Buffer.from('head'))
  const records = [Buffer.from('one'), new Uint8Array(0), Buffer.from('three'), new Uint8Array(300).fill(7)]
  assert.equal(file.writeBatch(records), 3 + 5 + 300)
  const expected = Buffer.concat([Buffer.from('head'), ...records])
  assert.equal(file.size, expected.length)
  assert.deepEqual(Buffer.from(file.contents()), expected)
  const raw = readFileSync(file.path)
  assert.deepEqual(raw.subarray(0, expected.length), expected)
  assert.equal(raw.readBigUInt64LE(expected.length), MAGIC_TAIL)
  assert.equal(file.writeBatch([]), 0)
  assert.equal(file.size, expected.length)
})

test('writeBatch grows the file as far as the batch needs', (t) => {
  const file = fresh(t, { geometry: { growthStep: 4096, sizeUpper: 1 << 20 } })
  const records = Array.from({ length: 100 }, (_, index) => new Uint8Array(1000).fill(index))
  assert.equal(file.writeBatch(records), 100_000)
  assert.ok(file.fileSize >= 100_008)
  const contents = file.contents()
  for (let index = 0; index < 100; index++) assert.equal(contents[index * 1000 + 999], index)
})

test('writeBatch writes nothing when an element is not a Uint8Array, or the batch does not fit', (t) => {
  const file = fresh(t, { geometry: { sizeUpper: 64 * 1024 } })
  file.write(Buffer.from('kept'))
  assert.throws(() => file.writeBatch([Buffer.from('a'), 'b' as unknown as Uint8Array]), code(ErrorCode.InvalidArgument))
  assert.throws(() => file.writeBatch('ab' as unknown as Uint8Array[]), code(ErrorCode.InvalidArgument))
  // Bytes that cannot be read: a view of a transferred buffer, a Proxy of a Uint8Array.
  const detached = new Uint8Array(16)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  assert.throws(() => file.writeBatch([Buffer.from('a'), detached]), code(ErrorCode.InvalidArgument))
  assert.throws(() => file.writeBatch([new Proxy(new Uint8Array(4), {})]), code(ErrorCode.InvalidArgument))
  assert.throws(() => file.writeBatch([new Uint8Array(40 * 1024), new Uint8Array(40 * 1024)]), code(ErrorCode.Full))
  assert.equal(file.size, 4)
  assert.deepEqual(Buffer.from(file.contents()), Buffer.from('kept'))
})

test('a follower sees a batch at once, in one event', async (t) => {
  const file = fresh(t)
  const events: number[] = []
  const seen = new Promise<void>((resolve) => {
    file.subscribe({
      pollRead(event) {
        if (event.tail.length > 0) events.push(event.tail.length)
        if (event.end === 30) resolve()
        return event.end
      },
      pollReadClosed: () => undefined,
    })
  })
  file.writeBatch([new Uint8Array(10), new Uint8Array(10), new Uint8Array(10)])
  await seen
  assert.deepEqual(events, [30])
})

test('writeBatch on a finished file is refused', async (t) => {
  const file = fresh(t)
  await file.finish()
  assert.throws(() => file.writeBatch([Buffer.from('x')]), code(ErrorCode.ReadOnly))
})
