// The record each sync() leaves in the sidecar (docs/FORMAT.md, "After a power cut"): the first
// sync of an open, and a sync that covers more than SYNC_CHECK_MAX, record their size after the
// data's flush (syncedChecked 0); the others record it before, with the check of what they add.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { SYNC_CHECK_MAX } from '../../src/aof/durability.ts'
import { ShmOffset, sidecarPath } from '../../src/aof/shm.ts'
import { syncCheck } from '../../src/aof/sync-check.ts'
import { AppendOnlyFile } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

interface SyncRecord {
  size: number
  from: number
  check: number
  checked: number
}

/** The sync record as the sidecar's file holds it. */
function syncRecord(path: string): SyncRecord {
  const page = readFileSync(sidecarPath(path))
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength)
  return {
    size: view.getFloat64(ShmOffset.syncedSize, true),
    from: view.getFloat64(ShmOffset.syncedFrom, true),
    check: view.getUint32(ShmOffset.syncedCheck, true),
    checked: view.getUint32(ShmOffset.syncedChecked, true),
  }
}

test('a sync records its size after the flush when it is the first of an open or covers more than SYNC_CHECK_MAX, before it with the check otherwise', async (t) => {
  const path = join(tmpDir(t), 'file.aof')
  const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeUpper: 4 * SYNC_CHECK_MAX } })
  t.after(() => file.close())
  const chunk = new Uint8Array(64 * 1024).map((_, i) => i * 31)

  file.write(chunk)
  await file.sync()
  assert.deepEqual(syncRecord(path), { size: file.size, from: 0, check: 0, checked: 0 }, 'the first sync of an open')

  let from = file.size
  file.write(chunk)
  await file.sync()
  assert.deepEqual(syncRecord(path), { size: file.size, from, check: syncCheck(file.contents(), from, file.size), checked: 1 }, 'a small sync')

  // Exactly SYNC_CHECK_MAX is still checked; one byte more is not.
  from = file.size
  for (let written = 0; written < SYNC_CHECK_MAX; written += chunk.length) file.write(chunk)
  assert.equal(file.size - from, SYNC_CHECK_MAX)
  await file.sync()
  assert.equal(syncRecord(path).checked, 1, 'a sync of SYNC_CHECK_MAX bytes')

  from = file.size
  for (let written = 0; written < SYNC_CHECK_MAX; written += chunk.length) file.write(chunk)
  file.write(chunk.subarray(0, 1))
  await file.sync()
  assert.deepEqual(syncRecord(path), { size: file.size, from: 0, check: 0, checked: 0 }, 'a sync of more than SYNC_CHECK_MAX bytes')

  // The next small one is checked again, from the size the large one made durable.
  from = file.size
  file.write(chunk)
  await file.sync()
  assert.deepEqual(syncRecord(path), { size: file.size, from, check: syncCheck(file.contents(), from, file.size), checked: 1 })
})
