// Growth writes zeros over what it allocates until the file is first synced (src/aof/growth.ts),
// on the thread pool while the writer goes on below it, and on the writer's own thread when the
// writer catches up. Zeros written where the writer has already written would lose its data:
// these tests write through every append path, at every pace, on each kind of file system, and
// check every byte. And what zero-filling is for: the writer's stores fault once per folio of
// the page cache, not once per page.
import assert from 'node:assert/strict'
import { readFileSync, rmSync, statfsSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, ErrorCode, isAofkitError } from '../../src/index.ts'
import { mountFor } from '../helpers/mount.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const MIB = 1024 * 1024
const EXT4_MAGIC = 0xef53
const XFS_MAGIC = 0x58465342

/** Record `i`: `length` bytes, none of them zero, that tell it from its neighbours. */
function record(i: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let k = 0; k < length; k++) bytes[k] = ((i * 31 + k) % 255) + 1
  return bytes
}

type Pace = 'burst' | 'yielding'

/**
 * Writes `total` bytes of records through write, writeBatch, append and writeNonBlocking in
 * turn (records of `length` bytes), into a fresh file in `dir` with the default geometry, then
 * checks the file's bytes against what was written.
 */
async function writeAndCheck(dir: string, length: number, total: number, pace: Pace): Promise<void> {
  const path = join(dir, `data-${length}-${pace}.aof`)
  const file = AppendOnlyFile.open(path, { create: true })
  const expected: Uint8Array[] = []
  let written = 0
  for (let i = 0; written < total; i++) {
    const bytes = record(i, length)
    switch (i % 4) {
      case 0:
        file.write(bytes)
        break
      case 1:
        file.writeBatch([bytes])
        break
      case 2:
        file.append(length, (event) => {
          event.tail.set(bytes)
          return length
        })
        break
      default:
        try {
          file.writeNonBlocking(bytes)
        } catch (error) {
          if (!(isAofkitError(error) && error.code === ErrorCode.WouldBlock)) throw error
          file.write(bytes)
        }
    }
    expected.push(bytes)
    written += length
    if (pace === 'yielding' && i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal(file.size, written)
  await file.close()
  const data = readFileSync(path).subarray(0, written)
  rmSync(path)
  rmSync(`${path}-shm`)
  const want = Buffer.concat(expected)
  if (!data.equals(want)) {
    let at = 0
    while (data[at] === want[at]) at++
    assert.fail(`byte ${at} of ${written} is ${data[at]}, written as ${want[at]}`)
  }
}

/** Every pace and record size on the file system at `dir`. */
async function checkAll(t: TestContext, dir: string): Promise<void> {
  for (const pace of ['burst', 'yielding'] as const) {
    for (const length of [100, 5000, 300 * 1024, MIB + 7]) {
      await t.test(`${pace}, ${length} B records`, () => writeAndCheck(dir, length, 12 * MIB, pace))
    }
  }
}

test('growth writes no zeros over what the writer wrote, on the temporary directory', (t) => checkAll(t, tmpDir(t)))

test('growth writes no zeros over what the writer wrote, on a tmpfs', async (t) => {
  const point = mountFor(t, 'tmpfs', 'size=64m')
  if (point !== null) await checkAll(t, point)
})

test('growth writes no zeros over what the writer wrote, on a ramfs (no fallocate: zeros past the end)', async (t) => {
  const point = mountFor(t, 'ramfs', 'mode=0755')
  if (point !== null) await checkAll(t, point)
})

/** Minor page faults of this thread (the main thread's tid is the pid). */
function mainThreadFaults(): number {
  const text = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[7])
}

/** Why the page cache of `dir`'s file system may not take large folios, or null. */
function noLargeFolios(dir: string): string | null {
  const type = statfsSync(dir).type
  const [major = 0, minor = 0] = release().split('.').map(Number)
  if (type === XFS_MAGIC) return null
  if (type === EXT4_MAGIC) return major > 6 || (major === 6 && minor >= 16) ? null : `ext4 takes large folios from Linux 6.16; this is ${release()}`
  return `the temporary directory's file system (0x${type.toString(16)}) is not ext4 or xfs`
}

test("in a synchronous burst with the default geometry, the writer's stores fault once per folio, not once per page", (t) => {
  const dir = tmpDir(t)
  const reason = noLargeFolios(dir)
  if (reason !== null) {
    t.skip(reason)
    return
  }
  const file = AppendOnlyFile.open(join(dir, 'data.aof'), { create: true })
  t.after(() => file.close())
  const bytes = new Uint8Array(100).fill(7)
  const count = Math.floor((12 * MIB) / bytes.length)
  const before = mainThreadFaults()
  for (let i = 0; i < count; i++) file.write(bytes)
  const faults = mainThreadFaults() - before
  // Pages of a fallocated range, prefaulted on the pool, left the writer about a third of them
  // to fault itself; pages zero-filled in writes of up to 1 MiB fault once per folio.
  const pages = (count * bytes.length) / 4096
  assert.ok(faults < pages / 4, `${faults} page faults writing ${Math.round(pages)} pages`)
})
