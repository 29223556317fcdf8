// Guarantee 4 of the README, for arguments of the wrong type: every public entry point refuses
// them with ERR_AOF_INVALID_ARGUMENT (never a TypeError from deep inside) and writes nothing.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
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
  Journal,
  LogReader,
  LogWriter,
  MemorySink,
  MemorySource,
  StateStore,
  StateWriter,
  compactFile,
  decodeStateEntry,
  encodeStateEntry,
  salvageFile,
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
  assert.equal(describeValue('x'), '"x"')
  assert.equal(describeValue('5'), '"5"')
  assert.equal(describeValue('y'.repeat(41)), `"${'y'.repeat(40)}…"`)
  assert.equal(describeValue(5), '5')
  assert.equal(describeValue(null), 'null')
  assert.equal(describeValue(5n), '5n')
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

/**
 * What may stand where bytes are expected and is not bytes that can be read: each passes a
 * plain `instanceof Uint8Array` test or looks close enough to raise a TypeError deep inside.
 */
function notBytes(): Array<{ name: string; value: unknown }> {
  const buffer = new ArrayBuffer(8)
  const detached = new Uint8Array(buffer)
  const detachedBuffer = Buffer.from(buffer)
  structuredClone(buffer, { transfer: [buffer] })
  return [
    { name: 'a view of a detached buffer', value: detached },
    { name: 'a Buffer over a detached buffer', value: detachedBuffer },
    { name: 'a Proxy of a Uint8Array', value: new Proxy(new Uint8Array([1, 2, 3]), {}) },
    { name: 'a Proxy posing as a Uint8Array', value: new Proxy({}, { getPrototypeOf: () => Uint8Array.prototype }) },
    { name: 'a Proxy whose traps throw', value: new Proxy(new Uint8Array(3), { get: () => { throw new Error('trap') } }) },
    { name: 'an object with the prototype of a Uint8Array', value: Object.create(Uint8Array.prototype) as unknown },
    { name: 'a Symbol', value: Symbol('bytes') },
    { name: 'a SharedArrayBuffer itself', value: new SharedArrayBuffer(8) },
  ]
}

test('bytes that cannot be read (detached, a Proxy, a Symbol, a dressed-up object) are ERR_AOF_INVALID_ARGUMENT everywhere, and nothing is written', async (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const file = manager.open('file.aof', { create: true })
  const reader = AppendOnlyFile.openReader(file.path)
  t.after(() => reader.close())
  const sink = new MemorySink()
  const log = new LogWriter(sink)
  const journal = await Journal.open(join(dir, 'journal'), { create: true })
  t.after(() => journal.close())
  const writer = await StateWriter.open(join(dir, 'state.log'))
  t.after(() => writer.close())
  const stateSize = (): number => statSync(join(dir, 'state.log')).size
  let serialized: unknown
  const store = await StateStore.open<number, number>({
    path: join(dir, 'store.log'),
    initial: 0,
    apply: (state, update) => state + update,
    serialize: () => serialized as Uint8Array,
    deserialize: (bytes) => bytes.length,
  })
  t.after(() => store.close())
  const storeSize = statSync(join(dir, 'store.log')).size
  for (const { name, value } of notBytes()) {
    const bytes = value as Uint8Array
    for (const write of ['write', 'writeNonBlocking'] as const) {
      assert.throws(() => file[write](bytes), invalid, `${write}(${name})`)
    }
    for (const append of ['append', 'appendNonBlocking'] as const) {
      assert.throws(() => file[append](value as number, () => 0), invalid, `${append}(${name})`)
    }
    assert.equal(file.size, 0, `${name}: the file grew`)
    assert.throws(() => reader.readInto(bytes, 0), invalid, `readInto(${name})`)
    assert.throws(() => log.append(bytes), invalid, `LogWriter.append(${name})`)
    assert.equal(sink.size, 0, `${name}: the log grew`)
    assert.throws(() => new MemorySource(bytes), invalid, `MemorySource(${name})`)
    assert.throws(() => new MemorySink({ initial: bytes }), invalid, `MemorySink({ initial: ${name} })`)
    assert.throws(() => encodeStateEntry(1, 0, bytes), invalid, `encodeStateEntry(${name})`)
    assert.throws(() => decodeStateEntry(bytes), invalid, `decodeStateEntry(${name})`)
    assert.throws(() => journal.append(bytes), invalid, `Journal.append(${name})`)
    assert.throws(() => journal.appendBatch([new Uint8Array(1), bytes]), invalid, `Journal.appendBatch(${name})`)
    await assert.rejects(journal.appendDurable(bytes), invalid, `Journal.appendDurable(${name})`)
    assert.equal(journal.nextPosition, 0, `${name}: the journal grew`)
    await assert.rejects(writer.update(bytes), invalid, `StateWriter.update(${name})`)
    await assert.rejects(writer.snapshot(bytes), invalid, `StateWriter.snapshot(${name})`)
    serialized = value
    await assert.rejects(store.update(1), invalid, `StateStore.update, serialize returning ${name}`)
    assert.equal(store.state, 0)
  }
  assert.equal(stateSize(), 0)
  assert.equal(statSync(join(dir, 'store.log')).size, storeSize)
  // Each refusal left its writer usable: the next valid call works.
  assert.equal(file.write(new Uint8Array([1, 2])), 2)
  assert.equal(journal.append(new Uint8Array([1])), 0)
  await writer.update(new Uint8Array([1]))
  // What deserialize makes of 2 bytes: the update 2.
  serialized = new Uint8Array(2)
  assert.equal(await store.update(1), 2)
})

test('views of a SharedArrayBuffer are bytes: written as they are by every writer', async (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const shared = new Uint8Array(new SharedArrayBuffer(4))
  shared.set([1, 2, 3, 4])
  const file = manager.open('file.aof', { create: true })
  assert.equal(file.write(shared), 4)
  assert.equal(file.writeNonBlocking(shared.subarray(2)), 2)
  assert.deepEqual([...file.contents()], [1, 2, 3, 4, 3, 4])
  const sink = new MemorySink()
  new LogWriter(sink).append(shared)
  assert.deepEqual([...(new LogReader(new MemorySource(sink.bytes())).read() ?? [])], [1, 2, 3, 4])
  const journal = await Journal.open(join(dir, 'journal'), { create: true })
  t.after(() => journal.close())
  journal.appendBatch([shared, shared])
  assert.deepEqual([...journal.read()].map((entry) => [...entry.data]), [[1, 2, 3, 4], [1, 2, 3, 4]])
})

test('options that are not an object are ERR_AOF_INVALID_ARGUMENT at every entry point, compactFile and salvageFile included, and the log is left alone', async (t) => {
  const dir = tmpDir(t)
  const path = join(dir, 'state.log')
  const writer = await StateWriter.open(path)
  await writer.update(new Uint8Array([1]))
  await writer.close()
  const before = readFileSync(path)
  for (const value of [null, 5, 'x', true, Symbol('options'), () => ({})]) {
    const options = value as never
    await assert.rejects(compactFile(path, options), invalid, `compactFile(path, ${describeValue(value)})`)
    await assert.rejects(salvageFile(path, options), invalid, `salvageFile(path, ${describeValue(value)})`)
    await assert.rejects(StateWriter.open(path, options), invalid, `StateWriter.open(path, ${describeValue(value)})`)
    assert.throws(() => new Manager(options), invalid, `Manager(${describeValue(value)})`)
    assert.throws(() => new Geometry(options), invalid, `Geometry(${describeValue(value)})`)
    assert.throws(() => AppendOnlyFile.open(join(dir, 'file.aof'), options), invalid, `open(path, ${describeValue(value)})`)
  }
  for (const skip of ['0', 0, {}]) await assert.rejects(salvageFile(path, { skip: skip as never }), invalid, `skip ${describeValue(skip)}`)
  for (const backup of [5, '']) await assert.rejects(salvageFile(path, { skip: [0], backup: backup as never }), invalid, `backup ${describeValue(backup)}`)
  assert.deepEqual(readFileSync(path), before)
  assert.deepEqual(readdirSync(dir), ['state.log'])
})

test('an interval longer than a timer can wait (2^31 - 1 ms), or not a number, is ERR_AOF_INVALID_ARGUMENT for every interval option, never a 1 ms timer', async (t) => {
  const dir = tmpDir(t)
  const longest = 2 ** 31 - 1
  const bad = [longest + 1, 2 ** 40, Infinity, Number.NaN, -1, '100', null]
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const file = manager.open('file.aof', { create: true })
  const reader = AppendOnlyFile.openReader(file.path)
  t.after(() => reader.close())
  const consumer = { pollRead: () => 0, pollReadClosed: () => undefined }
  for (const value of bad) {
    const ms = value as number
    const shown = describeValue(value)
    assert.throws(() => new Manager({ flushIntervalMs: ms }), invalid, `flushIntervalMs ${shown}`)
    assert.throws(() => new Manager({ statsFile: join(dir, 'stats'), statsIntervalMs: ms }), invalid, `statsIntervalMs ${shown}`)
    assert.throws(() => file.subscribe(consumer, { intervalMs: ms }), invalid, `file.subscribe intervalMs ${shown}`)
    assert.throws(() => reader.subscribe(consumer, { intervalMs: ms }), invalid, `reader.subscribe intervalMs ${shown}`)
    assert.throws(() => AppendOnlyFile.openReader(file.path, { checkIntervalMs: ms }), invalid, `checkIntervalMs ${shown}`)
    await assert.rejects(StateWriter.open(join(dir, 'state.log'), { sync: 'interval', syncIntervalMs: ms }), invalid, `StateWriter syncIntervalMs ${shown}`)
    const store = { path: join(dir, 'store.log'), initial: 0, apply: (state: number) => state, syncIntervalMs: ms }
    await assert.rejects(StateStore.open({ ...store, sync: 'interval' }), invalid, `StateStore syncIntervalMs ${shown}`)
  }
  // The longest a timer can wait is accepted by each.
  await new Manager({ flushIntervalMs: longest, statsFile: join(dir, 'stats'), statsIntervalMs: longest }).close()
  file.subscribe(consumer, { intervalMs: longest }).close()
  reader.subscribe(consumer, { intervalMs: longest }).close()
  AppendOnlyFile.openReader(file.path, { checkIntervalMs: longest }).close()
  await (await StateWriter.open(join(dir, 'state.log'), { sync: 'interval', syncIntervalMs: longest })).close()
})
