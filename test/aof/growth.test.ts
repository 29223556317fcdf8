// How a file stays allocated and faulted in ahead of its writer (src/aof/growth.ts), and what a
// sync() leaves behind for the writer: checked by what the file and the main thread show (its
// allocation, its page faults, the sync's outcome), never by time.
import assert from 'node:assert/strict'
import { readFileSync, truncateSync } from 'node:fs'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { ErrorCode, Manager, isAofkitError } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const MIB = 1024 * 1024

function fresh(t: TestContext, options: Parameters<Manager['open']>[1] = {}) {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  return manager.open('data.aof', { create: true, ...options })
}

/** Minor page faults of this thread (the main thread's tid is the pid). */
function mainThreadFaults(): number {
  const text = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[7])
}

test('in a synchronous burst with the default geometry, the allocation keeps ahead of the writer', (t) => {
  const file = fresh(t)
  const record = new Uint8Array(100).fill(7)
  let closest = Infinity
  // 12 MiB in one loop: the event loop never turns, so background growth never lands; the
  // writer's own commits must grow the file before it reaches the end of its allocation.
  const count = Math.floor((12 * MIB) / 100)
  for (let i = 0; i < count; i++) {
    file.write(record)
    closest = Math.min(closest, file.fileSize - file.size)
  }
  // Within a step's low water of the end, the write path grows again; it never runs the
  // allocation down to a write's worth.
  assert.ok(closest >= 128 * 1024, `the writer came within ${closest} bytes of the allocation's end`)
  assert.equal(file.size, count * 100)
})

test('writeNonBlocking never grows the file itself, however far a synchronous loop goes', (t) => {
  const file = fresh(t, { geometry: { sizeNow: 256 * 1024, growthStep: 256 * 1024, sizeUpper: 16 * MIB } })
  const allocated = file.fileSize
  const chunk = new Uint8Array(4096)
  let written = 0
  assert.throws(
    () => {
      for (;;) {
        file.writeNonBlocking(chunk)
        written++
        // Background growth cannot land while this loop runs: the allocation is what open made.
        assert.equal(file.fileSize, allocated)
      }
    },
    (error: unknown) => isAofkitError(error) && error.code === ErrorCode.WouldBlock,
  )
  assert.equal(written, Math.floor((allocated - 8) / chunk.length))
})

test("a synced file's writer takes no page fault per page between its syncs", async (t) => {
  const file = fresh(t)
  const record = new Uint8Array(100).fill(3)
  const perSync = 1000
  const rounds = 40
  // Past the first syncs, which learn how much is written between two of them.
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < perSync; i++) file.write(record)
    await file.sync()
  }
  let faults = 0
  for (let round = 0; round < rounds; round++) {
    const before = mainThreadFaults()
    for (let i = 0; i < perSync; i++) file.write(record)
    faults += mainThreadFaults() - before
    await file.sync()
  }
  // Each sync writes back and write-protects the pages the writer goes on into; unless they are
  // faulted in again off the writer's thread, its first store into each faults.
  const pages = (rounds * perSync * record.length) / 4096
  assert.ok(faults < pages / 4, `${faults} page faults writing ${Math.round(pages)} pages`)
})

test('sync() reports data lost when the file is cut while background growth is on its way', async (t) => {
  const file = fresh(t, { geometry: { sizeNow: 256 * 1024, growthStep: 256 * 1024, sizeUpper: 16 * MIB } })
  const chunk = new Uint8Array(4096).fill(9)
  // Up to the allocation's end, so that the next write must wait for growth.
  while (file.size + chunk.length + 8 <= file.fileSize) file.writeNonBlocking(chunk)
  const path = file.path
  assert.throws(() => file.writeNonBlocking(chunk), (error: unknown) => isAofkitError(error) && error.code === ErrorCode.WouldBlock)
  // Growth is on its way to the pool: cut the file now. Whether its fallocate lands before or
  // after the cut, the data past the cut is lost, and sync() must say so (after the cut, the
  // fallocate extends the file again over a hole, where no store faults).
  truncateSync(path, 64 * 1024)
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      file.writeNonBlocking(chunk)
      break
    } catch (error) {
      if (!(isAofkitError(error) && error.code === ErrorCode.WouldBlock) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  await assert.rejects(file.sync(), (error: unknown) => {
    assert.ok(isAofkitError(error), String(error))
    assert.equal(error.code, ErrorCode.Replaced)
    return true
  })
})
