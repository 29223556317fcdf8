// The consumer position file (docs/FORMAT.md, "Consumer positions"): two checksummed slots
// written in place alternately, one fdatasync per commit; the valid slot with the highest
// sequence is the position; a torn slot leaves the other; files in the older one-record format
// open and are replaced by the slot format at the first commit.
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode, Journal } from '../../src/index.ts'
import { checksumRange } from '../../src/log/checksum.ts'
import { journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const SLOT_STRIDE = 4096

interface Slot {
  magic: string
  sequence: number
  next: number
  valid: boolean
}

function slotAt(bytes: Uint8Array, at: number): Slot {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    magic: Buffer.from(bytes.subarray(at, at + 8)).toString('latin1'),
    sequence: Number(view.getBigUint64(at + 8, true)),
    next: Number(view.getBigUint64(at + 16, true)),
    valid: Number(view.getBigUint64(at + 32, true)) === checksumRange(bytes, at, at + 32),
  }
}

async function journalWith(dir: string, count: number): Promise<Journal> {
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let position = 0; position < count; position++) journal.append(journalEntry(position))
  return journal
}

test('a commit writes the position file in place, the two slots in turn; the highest valid sequence is the position', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await journalWith(dir, 100)
  t.after(() => journal.close())
  const path = join(dir, 'consumers', 'c.position')
  const consumer = await Journal.openConsumer(dir, 'c')
  const created = statSync(path)
  assert.equal(created.size, 2 * SLOT_STRIDE)
  let bytes = readFileSync(path)
  assert.deepEqual(slotAt(bytes, 0), { magic: 'AOFKJCP2', sequence: 1, next: 0, valid: true })
  assert.equal(slotAt(bytes, SLOT_STRIDE).valid, false)

  await consumer.commit(10)
  await consumer.commit(20)
  await consumer.commit(30)
  // The same file, written in place (a replaced file would be another inode).
  assert.equal(statSync(path).ino, created.ino)
  bytes = readFileSync(path)
  assert.deepEqual(slotAt(bytes, 0), { magic: 'AOFKJCP2', sequence: 3, next: 21, valid: true })
  assert.deepEqual(slotAt(bytes, SLOT_STRIDE), { magic: 'AOFKJCP2', sequence: 4, next: 31, valid: true })
  await consumer.close()

  // A torn newest slot: the other one holds the position before it.
  bytes[SLOT_STRIDE + 17]! ^= 0xff
  writeFileSync(path, bytes)
  const again = await Journal.openConsumer(dir, 'c')
  assert.equal(again.committed, 20)
  assert.equal((await Journal.consumers(dir))[0]?.committed, 20)
  // The next commit goes to the torn slot, never over the one holding the position.
  await again.commit(40)
  bytes = readFileSync(path)
  assert.deepEqual(slotAt(bytes, 0), { magic: 'AOFKJCP2', sequence: 3, next: 21, valid: true })
  assert.deepEqual(slotAt(bytes, SLOT_STRIDE), { magic: 'AOFKJCP2', sequence: 4, next: 41, valid: true })
  await again.commit(50)
  assert.deepEqual(slotAt(readFileSync(path), 0), { magic: 'AOFKJCP2', sequence: 5, next: 51, valid: true })
  await again.close()
  assert.equal((await Journal.openConsumer(dir, 'c').then(async (c) => (await c.close(), c))).committed, 50)

  // Both slots torn: damaged.
  bytes = readFileSync(path)
  bytes[9]! ^= 1
  bytes[SLOT_STRIDE + 9]! ^= 1
  writeFileSync(path, bytes)
  await assert.rejects(Journal.openConsumer(dir, 'c'), { code: ErrorCode.Corrupted })
})

test('commits called while one is written share the next write (group commit)', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await journalWith(dir, 1000)
  t.after(() => journal.close())
  const consumer = await Journal.openConsumer(dir, 'c')
  t.after(() => consumer.close())
  await Promise.all(Array.from({ length: 200 }, (_, k) => consumer.commit(k * 3)))
  assert.equal(consumer.committed, 597)
  const bytes = readFileSync(join(dir, 'consumers', 'c.position'))
  const sequence = Math.max(slotAt(bytes, 0).sequence, slotAt(bytes, SLOT_STRIDE).sequence)
  // Created at 1; the first commit's write, then one for all that came while it ran.
  assert.ok(sequence <= 3, `sequence ${sequence}: ${sequence - 1} writes for 200 commits`)
})

test('a position file in the older one-record format opens; the first commit replaces it with the slot format', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await journalWith(dir, 100)
  t.after(() => journal.close())
  await (await Journal.openConsumer(dir, 'old')).close()
  const path = join(dir, 'consumers', 'old.position')
  // The older format: magic AOFKJCP1, next, time, checksum of bytes 0-23.
  const old = new Uint8Array(32)
  const view = new DataView(old.buffer)
  old.set(Buffer.from('AOFKJCP1', 'latin1'), 0)
  view.setBigUint64(8, 43n, true)
  view.setBigUint64(16, 1_700_000_000_000n, true)
  view.setBigUint64(24, BigInt(checksumRange(old, 0, 24)), true)
  writeFileSync(path, old)
  const [listed] = await Journal.consumers(dir)
  assert.deepEqual([listed?.committed, listed?.committedAt], [42, 1_700_000_000_000])

  const consumer = await Journal.openConsumer(dir, 'old')
  assert.equal(consumer.committed, 42)
  await consumer.commit(50)
  assert.equal(statSync(path).size, 2 * SLOT_STRIDE)
  const inode = statSync(path).ino
  await consumer.commit(60)
  assert.equal(statSync(path).ino, inode)
  await consumer.close()
  const bytes = readFileSync(path)
  assert.equal(Math.max(slotAt(bytes, 0).next, slotAt(bytes, SLOT_STRIDE).next), 61)
  const reopened = await Journal.openConsumer(dir, 'old')
  assert.equal(reopened.committed, 60)
  await reopened.close()

  // A damaged file in the older format is reported as damaged.
  old[9]! ^= 1
  writeFileSync(path, old)
  await assert.rejects(Journal.openConsumer(dir, 'old'), { code: ErrorCode.Corrupted })
})
