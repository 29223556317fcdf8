// A state log is opened as what it is: an AppendOnlyFile given as a plain path (the
// appendOnlyFile option forgotten) is opened as an AppendOnlyFile with its end marker and
// allocated space intact; a plain log given with the option is refused and left alone; and an
// AppendOnlyFile whose end marker a plain writer already cut is repaired without losing an
// entry (where the generic repair would cut back to its last checkpoint: to empty), while one
// whose data is damaged too is refused with nothing cut.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { AppendOnlyFile } from '../../src/aof/append-only-file.ts'
import { sidecarPath } from '../../src/aof/shm.ts'
import { isAofkitError } from '../../src/errors.ts'
import { compactFile } from '../../src/state/compact.ts'
import { restore } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { StateWriter } from '../../src/state/state-writer.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

type Counter = { count: number }

function store(path: string, appendOnlyFile?: boolean): Promise<StateStore<Counter, number>> {
  return StateStore.open<Counter, number>({
    path,
    initial: { count: 0 },
    apply: (state, add) => ({ count: state.count + add }),
    ...(appendOnlyFile === undefined ? {} : { appendOnlyFile }),
  })
}

/** A state log of ten updates in an AppendOnlyFile, closed; returns where its data ends. */
async function appendOnlyLog(path: string): Promise<number> {
  const counter = await store(path, true)
  for (let k = 1; k <= 10; k++) await counter.update(k)
  const end = counter.writer.size
  await counter.close()
  return end
}

/** The state log's data read through the AppendOnlyFile (default recovery). */
async function updatesIn(path: string): Promise<number> {
  const file = AppendOnlyFile.open(path)
  try {
    return [...restore(file).updates].length
  } finally {
    await file.close()
  }
}

describe('a state log is opened as what it is', () => {
  it('an AppendOnlyFile opened without the appendOnlyFile option keeps its end marker', async (t) => {
    const dir = tmpDir(t)
    for (const how of ['StateWriter', 'StateStore'] as const) {
      const path = join(dir, `${how}.aof`)
      const end = await appendOnlyLog(path)
      const size = statSync(path).size
      if (how === 'StateWriter') {
        const writer = await StateWriter.open(path)
        assert.notEqual(writer.appendOnlyFile, null, 'opened as an AppendOnlyFile')
        assert.equal([...writer.restored.updates].length, 10)
        assert.equal(writer.cut, null)
        await writer.update(Buffer.from('11'))
        await writer.close()
      } else {
        const counter = await store(path)
        assert.equal(counter.state.count, 55)
        await counter.update(11)
        await counter.close()
      }
      assert.ok(statSync(path).size >= size, 'the allocated space is kept')
      // Opened correctly afterwards, it is whole.
      const counter = await store(path, true)
      assert.equal(counter.state.count, 66, how)
      assert.ok(counter.writer.size > end)
      await counter.close()
      assert.equal(await updatesIn(path), 11)
    }
  })

  it('a plain state log opened with the appendOnlyFile option is refused and left alone', async (t) => {
    const path = join(tmpDir(t), 'plain.log')
    const counter = await store(path)
    for (let k = 1; k <= 10; k++) await counter.update(k)
    await counter.close()
    const before = readFileSync(path)
    for (const open of [() => store(path, true), () => StateWriter.open(path, { appendOnlyFile: true }), () => StateWriter.open(path, { appendOnlyFile: {} })]) {
      await assert.rejects(open(), (error) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT') && /plain state log/.test(error.message))
      assert.deepEqual(readFileSync(path), before)
      assert.equal(existsSync(sidecarPath(path)), false, 'no sidecar was made')
    }
    assert.equal((await store(path)).state.count, 55)
  })

  it('an AppendOnlyFile whose end marker was cut is repaired without losing an entry', async (t) => {
    const dir = tmpDir(t)
    for (const how of ['with the option', 'without it', 'compactFile']) {
      const path = join(dir, `${how}.aof`)
      const end = await appendOnlyLog(path)
      // What a plain writer did to it: cut the MagicTail and the allocated space.
      truncateSync(path, end)
      assert.throws(() => AppendOnlyFile.open(path), (error) => isAofkitError(error, 'ERR_AOF_CORRUPTED'))
      if (how === 'compactFile') {
        await compactFile(path, { appendOnlyFile: true })
      } else {
        const counter = await store(path, how === 'with the option' ? true : undefined)
        assert.equal(counter.state.count, 55, how)
        await counter.close()
      }
      assert.equal(await updatesIn(path), 10, `${how}: the default open reads it whole again`)
      const counter = await store(path, true)
      assert.equal(counter.state.count, 55, how)
      await counter.close()
    }
  })

  it('an AppendOnlyFile with its end marker cut and damaged data is refused, nothing cut', async (t) => {
    const refused = (error: unknown): boolean => isAofkitError(error, 'ERR_LOG_CORRUPTED') || isAofkitError(error, 'ERR_STATE_CORRUPT')
    const dir = tmpDir(t)
    for (const at of [0, 30, -5]) {
      const path = join(dir, `damaged${at}.aof`)
      const end = await appendOnlyLog(path)
      truncateSync(path, end)
      const bytes = readFileSync(path)
      const index = at < 0 ? end + at : at
      bytes[index] = bytes[index]! ^ 0x04
      writeFileSync(path, bytes)
      await assert.rejects(store(path, true), refused, `flip at ${index}`)
      await assert.rejects(store(path), refused, `flip at ${index}`)
      assert.deepEqual(readFileSync(path).subarray(0, end), bytes, `flip at ${index}: nothing was cut`)
      rmSync(sidecarPath(path), { force: true })
    }
  })

  it('a FIFO or a directory is refused with a code, without waiting for a writer', async (t) => {
    const dir = tmpDir(t)
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    for (const appendOnlyFile of [undefined, true]) {
      await assert.rejects(store(fifo, appendOnlyFile), (error) => isAofkitError(error) && error.code !== 'ERR_AOF_IO', `FIFO, appendOnlyFile ${String(appendOnlyFile)}`)
      await assert.rejects(store(dir, appendOnlyFile), (error) => isAofkitError(error), `directory, appendOnlyFile ${String(appendOnlyFile)}`)
    }
  })
})
