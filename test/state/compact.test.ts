// Compaction: the log is rewritten to start at its latest snapshot, restores to the same state
// and updates, goes on accepting writes (also those made while it ran, in call order), is
// triggered by the size policy, and a crash at any step (simulated by the files it leaves)
// restores the same state.
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { compactFile, compactionPath } from '../../src/state/compact.ts'
import { restore } from '../../src/state/restore.ts'
import type { Restored } from '../../src/state/restore.ts'
import { StateWriter } from '../../src/state/state-writer.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function text(value: string, size = value.length): Uint8Array {
  return new Uint8Array(Buffer.from(value.repeat(Math.ceil(size / Math.max(1, value.length))).slice(0, size)))
}

function drain(restored: Restored): { state: string | null; updates: string[] } {
  return {
    state: restored.state === null ? null : Buffer.from(restored.state).toString(),
    updates: [...restored.updates].map((u) => Buffer.from(u).toString()),
  }
}

async function fill(writer: StateWriter, epochs: number): Promise<void> {
  for (let epoch = 0; epoch < epochs; epoch++) {
    await writer.snapshot(text(`snapshot-${epoch}-`, 5000 + epoch * 1000))
    for (let i = 0; i < 20; i++) await writer.update(text(`u${epoch}.${i}-`, 100 + i * 37))
  }
}

describe('compaction', () => {
  it('starts the log at the latest snapshot, restores the same, and writes on', async (t) => {
    const path = join(tmpDir(t), 'compact.log')
    const writer = await StateWriter.open(path)
    await fill(writer, 12)
    const before = drain(restore(path))
    const sizeBefore = statSync(path).size
    const result = await writer.compact()
    assert.equal(result.compacted, true)
    assert.equal(result.sizeBefore, sizeBefore)
    assert.equal(result.sizeAfter, statSync(path).size)
    assert.ok(result.sizeAfter < sizeBefore / 5)
    assert.equal(writer.epoch, 0)
    assert.deepEqual(drain(restore(path)), before)
    assert.equal(restore(path).epoch, 0)
    assert.equal(existsSync(compactionPath(path)), false)
    // A second compaction has nothing to drop.
    assert.equal((await writer.compact()).compacted, false)
    await writer.update(text('after', 5))
    await writer.snapshot(text('next', 4))
    await writer.update(text('later', 5))
    await writer.close()
    assert.deepEqual(drain(restore(path)), { state: 'next', updates: ['later'] })
    const reopened = await StateWriter.open(path)
    assert.equal(reopened.cut, null)
    await reopened.close()
  })

  it('keeps updates made while it runs, in call order', async (t) => {
    const path = join(tmpDir(t), 'during.log')
    const writer = await StateWriter.open(path)
    await fill(writer, 3)
    const expected = drain(restore(path)).updates
    const compacting = writer.compact()
    const during: Promise<void>[] = []
    for (let i = 0; i < 50; i++) {
      during.push(writer.update(text(`during-${i}`)))
      expected.push(`during-${i}`)
    }
    await Promise.all([compacting, ...during])
    await writer.close()
    assert.deepEqual(drain(restore(path)).updates, expected)
  })

  it('runs by itself when the log outgrows its latest snapshot', async (t) => {
    const path = join(tmpDir(t), 'policy.log')
    const writer = await StateWriter.open(path, { compactWhen: { ratio: 3, sizeMin: 64 * 1024 } })
    for (let epoch = 0; epoch < 30; epoch++) {
      await writer.snapshot(text(`s${epoch}-`, 4000))
      for (let i = 0; i < 10; i++) await writer.update(text(`u${epoch}.${i}`, 200))
    }
    await writer.sync()
    await writer.close()
    const size = statSync(path).size
    assert.ok(size < 64 * 1024 + 4000 * 3, `log of ${size} bytes was not compacted`)
    const restored = drain(restore(path))
    assert.equal(restored.state, Buffer.from(text('s29-', 4000)).toString())
    assert.equal(restored.updates.length, 10)
  })

  it('leaves the old or the new log at every step of a crash, both restoring the same', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'crash.log')
    const writer = await StateWriter.open(path)
    await fill(writer, 4)
    await writer.close()
    const old = readFileSync(path)
    const want = drain(restore(path))
    // Crash before the rename: a complete or partial temporary file next to the old log.
    const done = join(dir, 'done.log')
    copyFileSync(path, done)
    await compactFile(done)
    const compacted = readFileSync(done)
    for (const partial of [compacted, compacted.subarray(0, 100), compacted.subarray(0, 0)]) {
      writeFileSync(path, old)
      writeFileSync(compactionPath(path), partial)
      assert.deepEqual(drain(restore(path)), want)
      const reopened = await StateWriter.open(path)
      assert.equal(existsSync(compactionPath(path)), false, 'the temporary file is removed on open')
      assert.deepEqual(drain(reopened.restored), want)
      await reopened.close()
    }
    // Crash after the rename: the new log.
    assert.deepEqual(drain(restore(done)), want)
  })

  it('compactFile refuses a log a writer holds', async (t) => {
    const path = join(tmpDir(t), 'held.log')
    const writer = await StateWriter.open(path)
    await fill(writer, 2)
    await assert.rejects(compactFile(path), (e) => isAofkitError(e, 'ERR_AOF_LOCKED'))
    await writer.close()
    assert.equal((await compactFile(path)).compacted, true)
  })
})
