// Compaction: the log is rewritten to start at its latest snapshot, restores to the same state
// and updates, goes on accepting writes (also those made while it ran, in call order), is
// triggered by the size policy, and a crash at any step (simulated by the files it leaves)
// restores the same state; in a plain file and in an AppendOnlyFile (new file and sidecar
// swapped in, readers of the old file told it was replaced).
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { AppendOnlyFile } from '../../src/aof/append-only-file.ts'
import { FileState } from '../../src/aof/file-state.ts'
import { RecoveryReadOnly } from '../../src/aof/open-file.ts'
import { sidecarPath } from '../../src/aof/shm.ts'
import { isAofkitError } from '../../src/errors.ts'
import { compactFile } from '../../src/state/compact.ts'
import { compactionPath } from '../../src/state/compaction.ts'
import { tailLog } from '../../src/log/tail-log.ts'
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

/**
 * Compacts `writer` while 50 updates are made; returns the updates the log must then hold:
 * `before` (what it held), then those 50 in call order.
 */
async function updateDuringCompaction(writer: StateWriter, before: string[]): Promise<string[]> {
  const expected = [...before]
  const compacting = writer.compact()
  const during: Promise<void>[] = []
  for (let i = 0; i < 50; i++) {
    during.push(writer.update(text(`during-${i}`)))
    expected.push(`during-${i}`)
  }
  await Promise.all([compacting, ...during])
  return expected
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
    const expected = await updateDuringCompaction(writer, drain(restore(path)).updates)
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

/** Restores a log kept in an AppendOnlyFile (opened read-only, closed again). */
function restoreAppendOnly(path: string): { state: string | null; updates: string[]; epoch: number } {
  const file = AppendOnlyFile.open(path, { recovery: RecoveryReadOnly })
  try {
    const restored = restore(file)
    return { ...drain(restored), epoch: restored.epoch }
  } finally {
    void file.close()
  }
}

describe('compaction over an AppendOnlyFile', () => {
  it('writes a new AppendOnlyFile and sidecar, swaps them in, and writes on', async (t) => {
    const path = join(tmpDir(t), 'compact.aof')
    const writer = await StateWriter.open(path, { appendOnlyFile: true })
    await fill(writer, 12)
    await writer.sync()
    const before = restoreAppendOnly(path)
    const inodeBefore = statSync(path).ino
    const result = await writer.compact()
    assert.equal(result.compacted, true)
    assert.ok(result.sizeAfter < result.sizeBefore / 5)
    assert.equal(writer.epoch, 0)
    assert.equal(writer.size, result.sizeAfter)
    assert.notEqual(statSync(path).ino, inodeBefore)
    assert.equal(existsSync(compactionPath(path)), false)
    assert.equal(existsSync(sidecarPath(compactionPath(path))), false)
    // The writer's file goes by the log's path, not the temporary name it was written under.
    assert.equal(writer.appendOnlyFile?.path, path)
    // A reader opening the path now follows the new writer through the renamed sidecar.
    const reader = AppendOnlyFile.openReader(path)
    t.after(() => reader.close())
    assert.equal(reader.state, FileState.Opened)
    assert.equal(reader.size, result.sizeAfter)
    assert.deepEqual(restoreAppendOnly(path), { ...before, epoch: 0 })
    assert.equal((await writer.compact()).compacted, false)
    await writer.update(text('after', 5))
    assert.equal(reader.size, writer.size, 'the reader sees writes to the new file')
    await writer.snapshot(text('next', 4))
    await writer.update(text('later', 5))
    await writer.close()
    assert.deepEqual(drain(restore(AppendOnlyFile.open(path, { recovery: RecoveryReadOnly }))), { state: 'next', updates: ['later'] })
    const reopened = await StateWriter.open(path, { appendOnlyFile: true })
    assert.deepEqual(drain(reopened.restored), { state: 'next', updates: ['later'] })
    await reopened.close()
  })

  it('tells a reader of the old file that it was replaced', async (t) => {
    const path = join(tmpDir(t), 'followed.aof')
    const writer = await StateWriter.open(path, { appendOnlyFile: true })
    await fill(writer, 3)
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    // Settled at once: the reader may notice before compact() resolves.
    const reading = (async () => {
      for await (const chunk of reader.tail()) assert.ok(chunk.length >= 0)
    })().then(
      () => 'ended as if complete',
      (error: unknown) => error,
    )
    // The record-level follower is told too.
    const recordReader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => recordReader.close())
    const following = (async () => {
      for await (const entry of tailLog(recordReader)) assert.ok(entry.data.length >= 0)
    })().then(
      () => 'ended as if complete',
      (error: unknown) => error,
    )
    await writer.compact()
    assert.ok(isAofkitError(await reading, 'ERR_AOF_REPLACED'))
    const followed = await following
    assert.ok(isAofkitError(followed, 'ERR_AOF_REPLACED'), String(followed))
    await writer.close()
  })

  it('keeps updates made while it runs, in call order, and compacts by policy', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'during.aof')
    const writer = await StateWriter.open(path, { appendOnlyFile: true })
    await fill(writer, 3)
    const expected = await updateDuringCompaction(writer, restoreAppendOnly(path).updates)
    await writer.close()
    assert.deepEqual(restoreAppendOnly(path).updates, expected)

    const policyPath = join(dir, 'policy.aof')
    const policy = await StateWriter.open(policyPath, { appendOnlyFile: true, compactWhen: { ratio: 3, sizeMin: 64 * 1024 } })
    for (let epoch = 0; epoch < 30; epoch++) {
      await policy.snapshot(text(`s${epoch}-`, 4000))
      for (let i = 0; i < 10; i++) await policy.update(text(`u${epoch}.${i}`, 200))
    }
    await policy.sync()
    assert.ok(policy.size < 64 * 1024 + 4000 * 3, `log of ${policy.size} bytes was not compacted`)
    await policy.close()
    const restored = restoreAppendOnly(policyPath)
    assert.equal(restored.state, Buffer.from(text('s29-', 4000)).toString())
    assert.equal(restored.updates.length, 10)
  })

  it('refuses an AppendOnlyFile the caller opened, and a second writer of the same file', async (t) => {
    const path = join(tmpDir(t), 'caller.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    t.after(() => file.close())
    const writer = await StateWriter.open(file)
    await fill(writer, 2)
    await assert.rejects(writer.compact(), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    await assert.rejects(StateWriter.open(file), (e) => isAofkitError(e, 'ERR_AOF_LOCKED'))
    // By path, in this very process: the file is open (and locked) by the caller.
    await assert.rejects(StateWriter.open(path, { appendOnlyFile: true }), (e) => isAofkitError(e, 'ERR_AOF_LOCKED'))
    await assert.rejects(compactFile(path, { appendOnlyFile: true }), (e) => isAofkitError(e, 'ERR_AOF_LOCKED'))
    await writer.close()
    const again = await StateWriter.open(file)
    await again.close()
    assert.equal(file.state, FileState.Opened, 'the caller keeps its file')
  })

  it('compactFile compacts a log in an AppendOnlyFile no writer holds', async (t) => {
    const path = join(tmpDir(t), 'idle.aof')
    const writer = await StateWriter.open(path, { appendOnlyFile: true })
    await fill(writer, 5)
    await writer.close()
    const before = restoreAppendOnly(path)
    // Without the option it would be rewritten as a plain log, losing its magic numbers:
    // refused, with or without the sidecar, and the file is left as it was.
    const bytes = readFileSync(path)
    await assert.rejects(compactFile(path), { code: 'ERR_AOF_INVALID_ARGUMENT' })
    const sidecar = readFileSync(sidecarPath(path))
    rmSync(sidecarPath(path))
    await assert.rejects(compactFile(path), { code: 'ERR_AOF_INVALID_ARGUMENT' })
    writeFileSync(sidecarPath(path), sidecar)
    assert.deepEqual(readFileSync(path), bytes)
    const result = await compactFile(path, { appendOnlyFile: true })
    assert.equal(result.compacted, true)
    assert.deepEqual(restoreAppendOnly(path), { ...before, epoch: 0 })
    assert.equal(existsSync(sidecarPath(compactionPath(path))), false)
    assert.equal((await compactFile(path, { appendOnlyFile: true })).compacted, false)
  })

  it('leaves the old or the new log at every step of a crash, both restoring the same', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'crash.aof')
    const writer = await StateWriter.open(path, { appendOnlyFile: true })
    await fill(writer, 4)
    await writer.close()
    const want = restoreAppendOnly(path)
    const old = readFileSync(path)
    const oldSidecar = readFileSync(sidecarPath(path))
    const done = join(dir, 'done.aof')
    copyFileSync(path, done)
    copyFileSync(sidecarPath(path), sidecarPath(done))
    await compactFile(done, { appendOnlyFile: true })
    const compacted = readFileSync(done)
    const compactedSidecar = readFileSync(sidecarPath(done))
    const steps: [string, () => void][] = [
      ['temporary file half written', () => writeFileSync(compactionPath(path), compacted.subarray(0, 100))],
      ['temporary file and its sidecar written', () => {
        writeFileSync(compactionPath(path), compacted)
        writeFileSync(sidecarPath(compactionPath(path)), compactedSidecar)
      }],
      ['data renamed, sidecar not', () => {
        writeFileSync(path, compacted)
        writeFileSync(sidecarPath(compactionPath(path)), compactedSidecar)
      }],
      ['both renamed', () => {
        writeFileSync(path, compacted)
        writeFileSync(sidecarPath(path), compactedSidecar)
      }],
    ]
    for (const [step, leave] of steps) {
      writeFileSync(path, old)
      writeFileSync(sidecarPath(path), oldSidecar)
      leave()
      const expected = step.includes('renamed') ? { ...want, epoch: 0 } : want
      assert.deepEqual(restoreAppendOnly(path), expected, step)
      const reopened = await StateWriter.open(path, { appendOnlyFile: true })
      assert.equal(existsSync(compactionPath(path)), false, `${step}: the temporary file is removed on open`)
      assert.equal(existsSync(sidecarPath(compactionPath(path))), false, `${step}: its sidecar too`)
      assert.deepEqual(drain(reopened.restored), { state: want.state, updates: want.updates }, step)
      await reopened.update(text('more', 4))
      await reopened.close()
      assert.deepEqual(restoreAppendOnly(path).updates, [...want.updates, 'more'], step)
    }
  })
})

/**
 * Entries queued behind a compaction are appended when it ends; the policy may start the next
 * compaction at one of them (here a small snapshot: the log is then more than twice its latest
 * snapshot). That compaction has read the log up to there, so the entries queued after it must
 * wait for it and land in its new log: none may go to the old log it replaces.
 */
async function queuedBehindTwoCompactions(
  t: TestContext,
  appendOnlyFile: boolean,
  trigger: number,
  syncAtOnce: boolean,
): Promise<void> {
  const path = join(tmpDir(t), appendOnlyFile ? 'chained.aof' : 'chained.log')
  const read = (): { state: string | null; updates: string[] } => {
    if (!appendOnlyFile) return drain(restore(path))
    const { state, updates } = restoreAppendOnly(path)
    return { state, updates }
  }
  const writer = await StateWriter.open(path, { appendOnlyFile, compactWhen: { ratio: 2, sizeMin: 1 } })
  // A large snapshot after an update (epoch > 0), small updates: the policy does not fire yet.
  await writer.update(text('first'))
  await writer.snapshot(text('s0-', 2000))
  for (let i = 0; i < 5; i++) await writer.update(text(`before-${i}`))
  const compacting = writer.compact()
  const calls: Promise<void>[] = []
  const expected: string[] = []
  for (let i = 0; i < 12; i++) {
    if (i === trigger) {
      calls.push(writer.snapshot(text('s1')))
      expected.length = 0
    }
    calls.push(writer.update(text(`queued-${i}`)))
    expected.push(`queued-${i}`)
  }
  // sync() called now makes durable every entry called before it: it waits for the second
  // compaction too, since the entries after s1 are appended only when that one ends.
  const synced = syncAtOnce ? writer.sync() : null
  assert.equal((await compacting).compacted, true)
  if (synced !== null) {
    await synced
    assert.deepEqual(read(), { state: 's1', updates: expected }, 'after sync()')
  }
  await Promise.all(calls)
  // A second compaction ran (the log now starts at s1) and took every entry after s1.
  assert.equal(writer.epoch, 0)
  await writer.close()
  assert.deepEqual(read(), { state: 's1', updates: expected })
  assert.equal(existsSync(compactionPath(path)), false)
  const reopened = await StateWriter.open(path, { appendOnlyFile })
  assert.deepEqual(drain(reopened.restored), { state: 's1', updates: expected })
  await reopened.close()
}

describe('compaction started by the policy while entries queued behind another are appended', () => {
  for (const appendOnlyFile of [false, true]) {
    const kind = appendOnlyFile ? 'AppendOnlyFile' : 'plain file'
    for (const trigger of [0, 1, 6, 11]) {
      it(`keeps every entry after the one that started it (${kind}, ${trigger} queued before it)`, (t) =>
        queuedBehindTwoCompactions(t, appendOnlyFile, trigger, false))
    }
    it(`sync() called meanwhile waits for both compactions (${kind})`, (t) =>
      queuedBehindTwoCompactions(t, appendOnlyFile, 3, true))
  }
})
