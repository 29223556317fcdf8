// Guarantee 4 of the README, for arguments of the wrong type: every public entry point refuses
// them with ERR_AOF_INVALID_ARGUMENT (never a TypeError from deep inside) and writes nothing.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'

import {
  AppendOnlyFile,
  AppendOnlyFileSink,
  AppendOnlyFileSource,
  FileReaderSource,
  FileSink,
  FileSource,
  LogReader,
  LogWriter,
  MemorySink,
  MemorySource,
  StateStore,
  StateWriter,
  decodeStateEntry,
  encodeStateEntry,
  tailLog,
} from '../src/index.ts'
import { describeValue } from '../src/arguments.ts'
import { Geometry } from '../src/aof/geometry.ts'
import { Manager } from '../src/aof/manager.ts'
import { tmpDir } from './helpers/tmp-dir.ts'

const invalid = { code: 'ERR_AOF_INVALID_ARGUMENT' }
/** Values of the wrong type for an object, a file or bytes. */
const wrong: (null | number | string | boolean)[] = [null, 5, 'x', true]

test('the record log: writers, readers, sinks and sources refuse arguments of the wrong type', async (t) => {
  const dir = tmpDir(t)
  for (const value of wrong) {
    const as = <T>(): T => value as T
    assert.throws(() => new LogWriter(as()), invalid, `LogWriter(${String(value)})`)
    assert.throws(() => new LogReader(as()), invalid, `LogReader(${String(value)})`)
    assert.throws(() => new MemorySource(as()), invalid, `MemorySource(${String(value)})`)
    assert.throws(() => new AppendOnlyFileSource(as()), invalid, `AppendOnlyFileSource(${String(value)})`)
    assert.throws(() => new FileReaderSource(as()), invalid, `FileReaderSource(${String(value)})`)
    assert.throws(() => new AppendOnlyFileSink(as()), invalid, `AppendOnlyFileSink(${String(value)})`)
    if (typeof value !== 'number') {
      assert.throws(() => new FileSource(as()), invalid, `FileSource(${String(value)})`)
      assert.throws(() => new FileSink(as()), invalid, `FileSink(${String(value)})`)
    }
    if (value !== null && typeof value !== 'object') {
      assert.throws(() => new LogWriter(new MemorySink(), as()), invalid, `LogWriter options ${String(value)}`)
      assert.throws(() => new LogReader(new MemorySource(new Uint8Array(0)), as()), invalid, `LogReader options ${String(value)}`)
    }
  }
  assert.throws(() => new LogWriter(new MemorySink(), null as never), invalid)
  assert.throws(() => new FileSource(-1), invalid)
  // A FileHandle once closed has descriptor -1.
  const handle = await open(join(dir, 'closed'), 'w')
  await handle.close()
  assert.throws(() => new FileSource(handle), invalid)
  assert.throws(() => new FileSink(handle), invalid)
  const file = AppendOnlyFile.open(join(dir, 'log.aof'), { create: true })
  t.after(() => file.close())
  for (const value of [...wrong, {}]) {
    await assert.rejects(tailLog(value as AppendOnlyFile).next(), invalid, `tailLog(${JSON.stringify(value)})`)
  }
  await assert.rejects(tailLog(file, null as never).next(), invalid)
  assert.equal(file.size, 0)
})

test('the state log: entries, writers and stores refuse arguments of the wrong type, and write nothing', async (t) => {
  const dir = tmpDir(t)
  for (const value of wrong) {
    assert.throws(() => encodeStateEntry(1, 0, value as unknown as Uint8Array), invalid, `payload ${String(value)}`)
    assert.throws(() => decodeStateEntry(value as unknown as Uint8Array), invalid, `entry ${String(value)}`)
    await assert.rejects(StateStore.open(value as never), invalid, `StateStore.open(${String(value)})`)
    if (value !== null) continue
    await assert.rejects(StateWriter.open(join(dir, 'state.log'), value as never), invalid)
  }
  for (const type of [0, 3, '1', null]) assert.throws(() => encodeStateEntry(type as 1, 0, new Uint8Array(0)), invalid)
  for (const epoch of [-1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => encodeStateEntry(1, epoch, new Uint8Array(0)), invalid)
  await assert.rejects(StateWriter.open(join(dir, 'state.log'), 5 as never), invalid)
  assert.deepEqual(readdirSync(dir), [])
})

test('a refused value is shown by its kind in the message, never as [object Object]', () => {
  assert.equal(describeValue({}), 'an object (Object)')
  assert.equal(describeValue(new Date(0)), 'an object (Date)')
  assert.equal(describeValue([1, 2]), 'an array of 2')
  assert.equal(describeValue(() => 1), 'a function')
  assert.equal(describeValue('x'), 'x')
  assert.equal(describeValue(null), 'null')
  assert.equal(describeValue(5n), '5')
  const refused = (call: () => unknown): string => {
    try {
      call()
    } catch (error) {
      assert.equal((error as { code?: unknown }).code, 'ERR_AOF_INVALID_ARGUMENT')
      return (error as Error).message
    }
    assert.fail('not refused')
  }
  assert.match(refused(() => new Geometry({ sizeNow: {} as number })), /got an object \(Object\)$/)
  assert.match(refused(() => new Manager({ writeMode: [] as unknown as number })), /got an array of 0$/)
})
