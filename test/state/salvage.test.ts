// Salvage rewrites a damaged state log so that it opens again, with every readable entry of
// its latest epoch: a damaged update in the middle (plain file and AppendOnlyFile), an entry
// the application cannot decode (skip), everything from an offset (cutAt), a damaged latest
// snapshot (the previous epoch is kept, the lost epoch's updates are reported); it keeps a
// copy of the old log, leaves a whole log alone, and refuses an offset where no entry starts.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { restore } from '../../src/state/restore.ts'
import { salvageFile } from '../../src/state/salvage.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

type List = { items: string[] }

function options(path: string, appendOnlyFile = false, deserialize?: (bytes: Uint8Array) => unknown) {
  return {
    path,
    initial: { items: [] as string[] },
    apply: (state: List, update: string): List => ({ items: [...state.items, update] }),
    snapshotEvery: 0,
    ...(appendOnlyFile ? { appendOnlyFile: true } : {}),
    ...(deserialize === undefined ? {} : { deserialize }),
  }
}

/** A log holding the snapshot ['s'], then updates u1..u5; returns the updates' offsets. */
async function writeLog(path: string, appendOnlyFile = false): Promise<number[]> {
  const store = await StateStore.open<List, string>(options(path, appendOnlyFile))
  await store.update('s')
  await store.snapshot()
  for (let k = 1; k <= 5; k++) await store.update(`u${k}`)
  // Data offsets are file offsets in both containers; an AppendOnlyFile's MagicTail follows.
  const size = store.writer.size
  await store.close()
  const offsets: number[] = []
  const restored = restore(path, size)
  for (const _ of restored.updates) offsets.push(restored.updates.entryOffset)
  return offsets
}

async function items(path: string, appendOnlyFile = false): Promise<string[]> {
  const store = await StateStore.open<List, string>(options(path, appendOnlyFile))
  const result = store.state.items
  await store.close()
  return result
}

function flip(path: string, at: number): void {
  const bytes = readFileSync(path)
  bytes[at] = bytes[at]! ^ 0x20
  writeFileSync(path, bytes)
}

describe('salvageFile', () => {
  for (const appendOnlyFile of [false, true]) {
    it(`drops a damaged update in the middle and keeps the rest (${appendOnlyFile ? 'AppendOnlyFile' : 'plain file'})`, async (t) => {
      const path = join(tmpDir(t), 'log')
      const offsets = await writeLog(path, appendOnlyFile)
      flip(path, offsets[2]! + 20)
      const damaged = readFileSync(path)
      await assert.rejects(items(path, appendOnlyFile), (error) => isAofkitError(error, 'ERR_LOG_CORRUPTED'))
      const dry = await salvageFile(path, { dryRun: true })
      assert.equal(dry.salvaged, false)
      assert.deepEqual(readFileSync(path), damaged, 'a dry run changes nothing')
      const done = await salvageFile(path)
      assert.equal(done.salvaged, true)
      assert.equal(done.updates, 4)
      assert.equal(done.dropped.length, 1)
      assert.equal(done.dropped[0]!.offset, offsets[2])
      assert.deepEqual(readFileSync(done.backup!).subarray(0, damaged.length), damaged, 'the old log is kept')
      assert.deepEqual(await items(path, appendOnlyFile), ['s', 'u1', 'u2', 'u4', 'u5'])
      assert.equal((await salvageFile(path)).salvaged, false, 'a whole log is left alone')
    })
  }

  it('skips an entry the application cannot decode, or cuts from an offset', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'log')
    const offsets = await writeLog(path)
    const poison = (bytes: Uint8Array): unknown => {
      const value = JSON.parse(Buffer.from(bytes).toString()) as unknown
      if (value === 'u3') throw new SyntaxError('cannot decode u3')
      return value
    }
    let offset = -1
    await assert.rejects(StateStore.open<List, string>(options(path, false, poison)), (error) => {
      offset = (error as { offset: number }).offset
      return isAofkitError(error, 'ERR_STATE_ENTRY_REJECTED')
    })
    assert.equal(offset, offsets[2])
    const copy = join(dir, 'copy')
    writeFileSync(copy, readFileSync(path))
    const skipped = await salvageFile(path, { skip: [offset] })
    assert.deepEqual(skipped.dropped.map((range) => [range.offset, range.reason]), [[offset, 'skipped']])
    const store = await StateStore.open<List, string>(options(path, false, poison))
    assert.deepEqual(store.state.items, ['s', 'u1', 'u2', 'u4', 'u5'])
    await store.close()
    await salvageFile(copy, { cutAt: offset, backup: join(dir, 'copy.before') })
    assert.deepEqual(await items(copy), ['s', 'u1', 'u2'])
    assert.ok(existsSync(join(dir, 'copy.before')))
    await assert.rejects(salvageFile(copy, { skip: [offset + 1] }), (error) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT'))
  })

  it('keeps the previous epoch when the latest snapshot is damaged, reporting the lost updates', async (t) => {
    const path = join(tmpDir(t), 'log')
    const store = await StateStore.open<List, string>(options(path))
    await store.update('a')
    await store.snapshot()
    await store.update('b')
    await store.snapshot()
    const second = store.writer.epoch
    await store.update('c')
    await store.close()
    flip(path, second + 20)
    const done = await salvageFile(path)
    assert.equal(done.snapshotOffset !== null && done.snapshotOffset < second, true)
    assert.deepEqual(done.dropped.map((range) => range.offset >= second), [true, true])
    assert.deepEqual(await items(path), ['a', 'b'])
  })
})
