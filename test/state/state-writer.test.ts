// StateWriter over plain files and AppendOnlyFiles: the bytes equal the in-memory writer's
// (which the vectors tie to the reference), reopening restores and appends after the end, a
// torn tail is cut at every possible cut point while damage before the tail is an error,
// concurrent durable updates all land in call order, and one writer holds a log at a time.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { AppendOnlyFile } from '../../src/aof/append-only-file.ts'
import { isAofkitError } from '../../src/errors.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { restore } from '../../src/state/restore.ts'
import type { Restored } from '../../src/state/restore.ts'
import { StateWriter } from '../../src/state/state-writer.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

type Op = ['u' | 's', Uint8Array]

function bytesOf(text: string, size = text.length): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = text.charCodeAt(i % text.length)
  return out
}

/** A script with small and multi-block entries, snapshots in the middle. */
function script(): Op[] {
  return [
    ['u', bytesOf('a', 40)],
    ['s', bytesOf('snap-one', 70_000)],
    ['u', bytesOf('b', 10)],
    ['u', bytesOf('c', 33_000)],
    ['s', bytesOf('snap-two', 300)],
    ['u', bytesOf('d', 50)],
    ['u', bytesOf('e', 0)],
    ['u', bytesOf('f', 90)],
  ]
}

async function play(writer: StateWriter, ops: Op[]): Promise<void> {
  for (const [kind, data] of ops) await (kind === 'u' ? writer.update(data) : writer.snapshot(data))
}

function memoryBytes(ops: Op[]): Promise<Uint8Array> {
  const sink = new MemorySink()
  const writer = StateWriter.fromSink(sink)
  return play(writer, ops).then(() => sink.bytes().slice())
}

function drain(restored: Restored): { state: string | null; updates: string[] } {
  const updates = [...restored.updates].map((u) => Buffer.from(u).toString('latin1'))
  return { state: restored.state === null ? null : Buffer.from(restored.state).toString('latin1'), updates }
}

/** What restoring after the first `count` operations must give. */
function model(ops: Op[], count: number): { state: string | null; updates: string[] } {
  let state: string | null = null
  let updates: string[] = []
  for (const [kind, data] of ops.slice(0, count)) {
    const text = Buffer.from(data).toString('latin1')
    if (kind === 's') {
      state = text
      updates = []
    } else updates.push(text)
  }
  return { state, updates }
}

describe('StateWriter over a plain file', () => {
  it('writes the bytes the in-memory (reference-equal) writer writes, and reopens after the end', async (t) => {
    const path = join(tmpDir(t), 'state.log')
    const ops = script()
    const first = await StateWriter.open(path)
    assert.equal(first.cut, null)
    await play(first, ops.slice(0, 5))
    await first.close()
    // Reopening the way the reference's NewFileWriter does, then going on.
    const second = await StateWriter.open(path)
    assert.deepEqual(drain(second.restored), model(ops, 5))
    await play(second, ops.slice(5))
    await second.close()
    assert.equal(Buffer.compare(readFileSync(path), await memoryBytes(ops)), 0)
    assert.deepEqual(drain(restore(path)), model(ops, ops.length))
  })

  it('cuts a torn tail at every cut point, reports it, and appends readable entries after', async (t) => {
    const dir = tmpDir(t)
    const ops = script()
    const full = await memoryBytes(ops)
    const ends: number[] = []
    {
      const sink = new MemorySink()
      const writer = StateWriter.fromSink(sink)
      for (const op of ops) {
        await play(writer, [op])
        ends.push(sink.size)
      }
    }
    // Cut points: inside each of the last three entries (several inside the multi-block ones).
    const cuts: number[] = []
    for (let k = ends.length - 3; k < ends.length; k++) {
      const begin = ends[k - 1] as number
      const end = ends[k] as number
      for (const at of [begin + 1, begin + 15, begin + 16, Math.floor((begin + end) / 2), end - 1]) cuts.push(at)
    }
    cuts.push(ends[1]! + 32768 - 90, ends[1]! - 20, ends[3]! - 40_000 + 1)
    for (const [index, cut] of cuts.entries()) {
      const path = join(dir, `torn-${index}.log`)
      writeFileSync(path, full.subarray(0, cut))
      const complete = ends.filter((end) => end <= cut).length
      const writer = await StateWriter.open(path)
      const context = `cut at ${cut}`
      assert.ok(writer.cut !== null, context)
      assert.equal(writer.cut.offset, complete === 0 ? 0 : ends[complete - 1], context)
      assert.equal(writer.cut.size, cut - writer.cut.offset, context)
      assert.deepEqual(drain(writer.restored), model(ops, complete), context)
      await writer.update(bytesOf('after', 20))
      await writer.close()
      const after = drain(restore(path))
      const expected = model(ops, complete)
      assert.deepEqual(after, { state: expected.state, updates: [...expected.updates, 'after'.repeat(4)] }, context)
    }
  })

  it('fails on damage before the tail, and with repair: false where the reference fails', async (t) => {
    const dir = tmpDir(t)
    const ops = script()
    const full = await memoryBytes(ops)
    // Flip a byte of the update "d" (followed by two complete updates).
    const damaged = full.slice()
    const at = full.length - 114 - 24 - 30
    damaged[at] = (damaged[at] as number) ^ 0x10
    const path = join(dir, 'damaged.log')
    writeFileSync(path, damaged)
    await assert.rejects(StateWriter.open(path), (error) => isAofkitError(error, 'ERR_LOG_CORRUPTED'))
    // A torn multi-block snapshot at the end: the reference's restore fails; so do we with repair off.
    const torn = join(dir, 'torn.log')
    writeFileSync(torn, full.subarray(0, 40_000))
    await assert.rejects(StateWriter.open(torn, { repair: false }), (error) => isAofkitError(error, 'ERR_LOG_CORRUPTED'))
    assert.equal(readFileSync(torn).length, 40_000, 'nothing was cut')
  })

  it('lands concurrent durable updates in call order (group commit)', async (t) => {
    const path = join(tmpDir(t), 'group.log')
    const writer = await StateWriter.open(path, { sync: 'always' })
    const all: Promise<void>[] = []
    for (let i = 0; i < 300; i++) all.push(writer.update(bytesOf(`u${i}.`, 8)))
    await Promise.all(all)
    await writer.close()
    const updates = drain(restore(path)).updates
    assert.equal(updates.length, 300)
    for (let i = 0; i < 300; i++) assert.equal(updates[i], Buffer.from(bytesOf(`u${i}.`, 8)).toString('latin1'))
  })

  for (const mode of ['interval', 'none'] as const) {
    it(`sync: '${mode}' writes everything by close, in order`, async (t) => {
      const path = join(tmpDir(t), `${mode}.log`)
      const writer = await StateWriter.open(path, { sync: mode, syncIntervalMs: 5 })
      const ops = script()
      await play(writer, ops)
      await writer.sync()
      await writer.close()
      assert.deepEqual(drain(restore(path)), model(ops, ops.length))
    })
  }

  it('lets one writer at a time hold a log, and rejects writes after close', async (t) => {
    const path = join(tmpDir(t), 'locked.log')
    const writer = await StateWriter.open(path)
    await assert.rejects(StateWriter.open(path), (error) => isAofkitError(error, 'ERR_AOF_LOCKED'))
    await writer.close()
    await assert.rejects(writer.update(bytesOf('x', 1)), (error) => isAofkitError(error, 'ERR_AOF_CLOSED'))
    const again = await StateWriter.open(path)
    await again.close()
  })

  it('refuses bad options and entries', async (t) => {
    const path = join(tmpDir(t), 'bad.log')
    await assert.rejects(StateWriter.open(path, { sync: 'sometimes' as never }), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    await assert.rejects(StateWriter.open(path, { compactWhen: { ratio: 1 } }), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    const writer = await StateWriter.open(path)
    await assert.rejects(writer.update('text' as never), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    await writer.close()
  })
})

describe('StateWriter over an AppendOnlyFile', () => {
  it('writes the same log into the file, restores from it, and reopens after the end', async (t) => {
    const path = join(tmpDir(t), 'state.aof')
    const ops = script()
    const first = await StateWriter.open(path, { appendOnlyFile: true })
    await play(first, ops.slice(0, 4))
    await first.close()
    const second = await StateWriter.open(path, { appendOnlyFile: { geometry: { growthStep: 65536 } } })
    assert.deepEqual(drain(second.restored), model(ops, 4))
    await play(second, ops.slice(4))
    await second.close()
    const file = AppendOnlyFile.open(path)
    try {
      assert.equal(Buffer.compare(file.contents(), await memoryBytes(ops)), 0)
      assert.deepEqual(drain(restore(file)), model(ops, ops.length))
      await assert.rejects(
        StateWriter.open(file, { compactWhen: { ratio: 2 } }),
        (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'),
      )
      const writer = await StateWriter.open(file)
      await assert.rejects(writer.compact(), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
      await writer.update(bytesOf('g', 3))
      await writer.close()
      assert.equal(drain(restore(file)).updates.at(-1), 'ggg')
    } finally {
      await file.close()
    }
    assert.ok(existsSync(path))
  })
})

describe('restore sources', () => {
  it('reads a path, a descriptor, a FileHandle and bytes alike, and fails on a missing path', async (t) => {
    const path = join(tmpDir(t), 'sources.log')
    const ops = script()
    writeFileSync(path, await memoryBytes(ops))
    const want = model(ops, ops.length)
    assert.deepEqual(drain(restore(path)), want)
    assert.deepEqual(drain(restore(new Uint8Array(readFileSync(path)))), want)
    const { open } = await import('node:fs/promises')
    const handle = await open(path, 'r')
    try {
      assert.deepEqual(drain(restore(handle)), want)
      assert.deepEqual(drain(restore(handle.fd)), want)
    } finally {
      await handle.close()
    }
    assert.throws(() => restore(join(path, '..', 'missing.log')), (e) => isAofkitError(e, 'ERR_AOF_NOT_FOUND'))
    assert.throws(() => restore({} as never), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    for (const limit of [-1, 1.5, Number.NaN]) {
      assert.throws(() => restore(path, limit), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'), String(limit))
    }
    // The updates reader: read() to the end, then null again; and iterable.
    const reader = restore(path).updates
    assert.equal(Buffer.from(reader.read() as Uint8Array).toString('latin1'), want.updates[0])
    assert.deepEqual([...reader].map((u) => Buffer.from(u).toString('latin1')), want.updates.slice(1))
    assert.equal(reader.read(), null)
    assert.equal(reader.read(), null)
    truncateSync(path, 0)
    const empty = restore(path)
    assert.equal(empty.state, null)
    assert.equal(empty.epoch, 0)
    assert.equal(empty.updates.read(), null)
  })
})

describe('reopening a plain-file log larger than the read chunk', () => {
  it('hands the writer every update of the last epoch, and compactFile keeps them all', async (t) => {
    // Recovery scans the updates with a reader of its own before handing over the restore's
    // update reader; over a file source that refills a 1 MiB buffer, the handed-over reader
    // must not read the bytes the scan left in it.
    const path = join(tmpDir(t), 'state.log')
    const first = await StateWriter.open(path, { sync: 'none' })
    await first.update(new Uint8Array(100).fill(1))
    await first.snapshot(new Uint8Array(1000).fill(2))
    const count = 25_000 // 100 B each: about 3 MiB after the snapshot
    for (let index = 0; index < count; index++) void first.update(new Uint8Array(100).fill(index % 251))
    await first.close()

    const second = await StateWriter.open(path, { sync: 'none' })
    let index = 0
    for (const update of second.restored.updates) {
      assert.equal(update[0], index % 251, `update ${index}`)
      index++
    }
    assert.equal(index, count)
    await second.close()

    const { compactFile } = await import('../../src/state/compact.ts')
    const result = await compactFile(path)
    assert.equal(result.compacted, true)
    const restored = restore(readFileSync(path))
    assert.equal(restored.state?.length, 1000)
    assert.equal([...restored.updates].length, count)
  })
})
