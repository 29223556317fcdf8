// The -shm sidecar's layout on its own: every field naturally aligned, inside the page, not
// overlapping another, indexed consistently by ShmIndex; and a real writer's sidecar holds
// what the layout says at those offsets.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Manager } from '../../src/aof/manager.ts'
import { HEAD_SIZE, SHM_MAGIC, SHM_SIZE, SHM_VERSION, ShmIndex, ShmOffset, sidecarPath } from '../../src/aof/shm.ts'
import { FileState } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Each field's width in bytes and the width of the typed view that indexes it (0: none). */
const WIDTHS: Record<keyof typeof ShmOffset, { bytes: number; element: number }> = {
  magic: { bytes: 4, element: 4 },
  version: { bytes: 4, element: 4 },
  writerPid: { bytes: 4, element: 4 },
  fileState: { bytes: 4, element: 4 },
  // A u64 in two 32-bit words (ShmIndex.committedLow and committedHigh; committed-size.ts).
  committedSize: { bytes: 8, element: 0 },
  lastCheckpoint: { bytes: 8, element: 8 },
  allocatedSize: { bytes: 8, element: 8 },
  inode: { bytes: 8, element: 8 },
  device: { bytes: 8, element: 8 },
  commitSequence: { bytes: 4, element: 4 },
  waiters: { bytes: 4, element: 4 },
  bootId: { bytes: 16, element: 4 },
  futexWaiters: { bytes: 4, element: 4 },
  writeWatchers: { bytes: 4, element: 4 },
  headLength: { bytes: 4, element: 4 },
  birthNanoseconds: { bytes: 4, element: 4 },
  birthSeconds: { bytes: 8, element: 8 },
  head: { bytes: HEAD_SIZE, element: 0 },
  syncedSize: { bytes: 8, element: 8 },
  mountId: { bytes: 8, element: 8 },
  syncedFrom: { bytes: 8, element: 8 },
  syncedCheck: { bytes: 4, element: 4 },
  syncedChecked: { bytes: 4, element: 4 },
}

test('every field is aligned, inside the page and apart from the others; ShmIndex points at it', () => {
  const fields = Object.entries(ShmOffset) as [keyof typeof ShmOffset, number][]
  assert.deepEqual(Object.keys(WIDTHS).sort(), fields.map(([name]) => name).sort(), 'every field has a width here')
  const sorted = [...fields].sort((a, b) => a[1] - b[1])
  let end = 0
  for (const [name, offset] of sorted) {
    const { bytes, element } = WIDTHS[name]
    assert.ok(offset >= end, `${name} at ${offset} overlaps the field before it (ends at ${end})`)
    assert.equal(offset % Math.max(element, 4), 0, `${name} at ${offset} is not aligned`)
    end = offset + bytes
    if (element > 0) {
      const index = (ShmIndex as Record<string, number>)[name]
      assert.equal(index, offset / element, `ShmIndex.${name}`)
    }
  }
  assert.ok(end <= SHM_SIZE, `the fields end at ${end}, past the page`)
  assert.equal(ShmOffset.committedSize % 8, 0, 'committedSize is aligned as a u64')
  assert.equal(ShmIndex.committedLow, ShmOffset.committedSize / 4, 'ShmIndex.committedLow')
  assert.equal(ShmIndex.committedHigh, ShmOffset.committedSize / 4 + 1, 'ShmIndex.committedHigh')
})

test('a writer\'s sidecar holds the magic, version, pid, state, committed size and head at their offsets', async (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const file = manager.open('data.aof', { create: true })
  file.write(Buffer.from('hello'))
  const page = readFileSync(sidecarPath(join(dir, 'data.aof')))
  assert.equal(page.length, SHM_SIZE)
  assert.equal(page.readUInt32LE(ShmOffset.magic), SHM_MAGIC)
  assert.equal(page.readUInt32LE(ShmOffset.version), SHM_VERSION)
  assert.equal(page.readUInt32LE(ShmOffset.writerPid), process.pid)
  assert.equal(page.readUInt32LE(ShmOffset.fileState), FileState.Opened)
  assert.equal(page.readBigUInt64LE(ShmOffset.committedSize), 5n)
  assert.ok(page.readDoubleLE(ShmOffset.allocatedSize) >= 5 + 8)
  const headLength = page.readUInt32LE(ShmOffset.headLength)
  assert.ok(headLength > 0 && headLength <= HEAD_SIZE)
  assert.equal(page.subarray(ShmOffset.head, ShmOffset.head + 5).toString(), 'hello')
  await file.close()
  assert.equal(readFileSync(sidecarPath(join(dir, 'data.aof'))).readUInt32LE(ShmOffset.writerPid), 0, 'a clean close clears the pid')
})
