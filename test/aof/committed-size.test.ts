// The committed size in the -shm sidecar: a u64 in two 32-bit words, each stored with
// Atomics, published by the writer with release ordering after the data and loaded by readers
// with acquire ordering; the high word reads -1 while the writer crosses a 4 GiB step, so that
// a reader never pairs a new low word with an old high one, and a page its writer left there
// (killed between the two words) is not trusted. docs/FORMAT.md, "The committed size".
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'

import fc from 'fast-check'

import { loadCommittedSize, publishCommittedSize } from '../../src/aof/committed-size.ts'
import { reconcile } from '../../src/aof/reconcile.ts'
import { SHM_SIZE, ShmIndex, ShmOffset, parseSidecar, sidecarPath } from '../../src/aof/shm.ts'
import * as native from '../../src/native/binding.ts'
import { AppendOnlyFile, DEFAULT_MAGIC, FileState, Manager, recoverWithMagic } from '../../src/index.ts'
import { TAIL_BYTES } from '../helpers/aof-model.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const GIB4 = 2 ** 32
const GEOMETRY = { sizeNow: 4096, growthStep: 4096, sizeUpper: 1 << 20 }

/** The committed size as the page's bytes hold it: a little-endian u64. */
function pageSize(page: Uint8Array): bigint {
  return Buffer.from(page.buffer, page.byteOffset, page.byteLength).readBigUInt64LE(ShmOffset.committedSize)
}

/** What a writer killed between the two words of a 4 GiB step leaves: the high word at -1. */
function stopMidStep(words: Int32Array, size: number): void {
  Atomics.store(words, ShmIndex.committedHigh, -1)
  Atomics.store(words, ShmIndex.committedLow, size | 0)
}

describe('the committed size', () => {
  it('a writer publishes it in its page as a little-endian u64, and a reader loads it', (t) => {
    const path = join(tmpDir(t), 'f.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    t.after(() => file.close())
    const reader = AppendOnlyFile.openReader(path)
    t.after(() => reader.close())
    for (const bytes of [1, 7, 4096, 100_000]) {
      file.write(new Uint8Array(bytes))
      assert.equal(pageSize(readFileSync(sidecarPath(path))), BigInt(file.size))
      assert.equal(reader.size, file.size)
    }
    file.checkpoint()
    assert.equal(pageSize(readFileSync(sidecarPath(path))), BigInt(file.size))
  })

  it('sizes across 4 GiB steps round-trip through the two words, and the page holds each as a u64', () => {
    const page = new Uint8Array(SHM_SIZE)
    const words = new Int32Array(page.buffer)
    const sizes = [0, 8, 2 ** 31 - 1, 2 ** 31, GIB4 - 8, GIB4 - 1, GIB4, GIB4 + 5, 3 * GIB4 + 2 ** 31, 2 ** 52, 2 ** 53 - 1]
    for (const size of sizes) {
      publishCommittedSize(words, size)
      assert.equal(loadCommittedSize(words), size)
      assert.equal(pageSize(page), BigInt(size))
    }
    // Any order of sizes, up and down (a new writer republishes what recovery found).
    fc.assert(
      fc.property(fc.array(fc.maxSafeNat(), { minLength: 1, maxLength: 20 }), (list) => {
        for (const size of list) {
          publishCommittedSize(words, size)
          if (loadCommittedSize(words) !== size || pageSize(page) !== BigInt(size)) return false
        }
        return true
      }),
    )
    // The words beside it are left alone.
    page.fill(0x5a)
    publishCommittedSize(words, 3 * GIB4 + 17)
    assert.equal(page[ShmOffset.committedSize - 1], 0x5a)
    assert.equal(page[ShmOffset.committedSize + 8], 0x5a)
  })

  it('a reader in another thread never sees a size the writer did not publish, across many 4 GiB steps', async () => {
    // Each size crosses a step from the last one about every other publish; a reader that
    // paired a low word with the other step's high word would load a size off the grid, or
    // one going back.
    const step = 2 ** 31 + 2 ** 20
    const stopIndex = ShmIndex.committedHigh + 1
    const readyIndex = stopIndex + 1
    const buffer = new SharedArrayBuffer(SHM_SIZE)
    const words = new Int32Array(buffer)
    const worker = new Worker(new URL('../helpers/worker-entry.mjs', import.meta.url), {
      workerData: { script: new URL('../helpers/committed-size-loader.ts', import.meta.url).href, buffer, step, stopIndex, readyIndex },
    })
    const report = new Promise<{ loads: number; unfinished: number; wrong: number[]; last: number }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    // Wait until the loader runs (its first loads see 0), then publish.
    while (Atomics.load(words, readyIndex) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    let size = 0
    while (size + step <= Number.MAX_SAFE_INTEGER) {
      size += step
      publishCommittedSize(words, size)
    }
    Atomics.store(words, stopIndex, 1)
    const { loads, wrong } = await report
    await worker.terminate()
    assert.deepEqual(wrong, [], `sizes the writer never published, of ${loads} loads`)
    assert.ok(loads > 0)
  })

  it('a step left half done reads as no size, and the next store of the writer completes it', () => {
    const words = new Int32Array(SHM_SIZE / 4)
    publishCommittedSize(words, GIB4 - 8)
    stopMidStep(words, GIB4 + 8)
    assert.ok(Number.isNaN(loadCommittedSize(words)), 'a size under way is not a size')
    Atomics.store(words, ShmIndex.committedHigh, 1)
    assert.equal(loadCommittedSize(words), GIB4 + 8)
    stopMidStep(words, 2 * GIB4)
    publishCommittedSize(words, 2 * GIB4 + 16)
    assert.equal(loadCommittedSize(words), 2 * GIB4 + 16)
  })

  it('a live reader keeps the last size it saw while its writer is in the middle of a step, then follows it', (t) => {
    const path = join(tmpDir(t), 'f.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    t.after(() => file.close())
    const reader = AppendOnlyFile.openReader(path)
    t.after(() => reader.close())
    file.write(new Uint8Array(100))
    assert.equal(reader.size, 100)
    // A second mapping of the writer's page, as another process has it.
    const fd = openSync(sidecarPath(path), 'r+')
    const mapping = native.map(fd, SHM_SIZE, true)
    closeSync(fd)
    t.after(() => native.unmap(mapping))
    const words = new Int32Array(mapping)
    stopMidStep(words, GIB4 + 5)
    assert.equal(reader.size, 100, 'not NaN, not the new low word with the old high one')
    Atomics.store(words, ShmIndex.committedHigh, 1)
    assert.equal(reader.size, GIB4 + 5)
    // The writer's next commit publishes its own size again (it alone stores the words).
    file.write(new Uint8Array(1))
    assert.equal(reader.size, 101)
  })

  it('a writer killed in the middle of a step leaves a page that is not trusted: the bytes decide', async (t) => {
    const dir = tmpDir(t, 'aofkit-committed-')
    const path = join(dir, 'f.aof')
    const child = spawnHelper('killed-writer.ts', [JSON.stringify([{ path, ops: [{ write: 'aa'.repeat(40) }, { write: 'bb'.repeat(40) }] }])])
    const { signal } = await child.exited
    assert.equal(signal, 'SIGKILL', child.stderr())
    // A record holding a MagicTail, torn right after it: only a trusted committed size (80)
    // would cut it; the magic numbers keep it.
    const raw = readFileSync(path)
    Buffer.alloc(8, 0x77).copy(raw, 80)
    TAIL_BYTES.forEach((byte, i) => (raw[88 + i] = byte))
    writeFileSync(path, raw)
    const shm = readFileSync(sidecarPath(path))
    const pageWords = new Int32Array(shm.buffer, shm.byteOffset, SHM_SIZE / 4)
    assert.equal(loadCommittedSize(pageWords), 80)
    stopMidStep(pageWords, GIB4 + 80)
    writeFileSync(sidecarPath(path), shm)

    // The pure reconciliation: the page parses, with no committed size, and is 'invalid'.
    const page = parseSidecar(new Int32Array(shm.buffer, shm.byteOffset, SHM_SIZE / 4), new Float64Array(shm.buffer, shm.byteOffset, SHM_SIZE / 8))
    assert.ok(page !== null)
    assert.ok(Number.isNaN(page.committedSize))
    const result = recoverWithMagic(raw.length, raw, DEFAULT_MAGIC)
    const decided = reconcile({
      bytes: raw,
      fileSize: raw.length,
      magic: DEFAULT_MAGIC,
      result,
      readOnly: false,
      repair: false,
      sidecar: page,
      identity: { device: page.device, inode: page.inode, birthSeconds: page.birthSeconds, birthNanoseconds: page.birthNanoseconds, mountId: page.mountId },
    })
    // The magic numbers end the data at the MagicTail inside the torn record.
    assert.deepEqual([decided.sidecar, decided.source, decided.size], ['invalid', 'magic', 88])

    // And a real open: the same decision, nothing cut.
    const manager = new Manager({ dir, flushIntervalMs: 0 })
    t.after(() => manager.close())
    const file = manager.open(path, { geometry: GEOMETRY })
    assert.deepEqual([file.state, file.recovery.sidecar, file.recovery.source, file.recovery.cutBytes], [FileState.Opened, 'invalid', 'magic', 0])
    assert.equal(file.size, 88)
    await file.close()
  })
})
