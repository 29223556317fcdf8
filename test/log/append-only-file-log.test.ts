/**
 * The record log over an AppendOnlyFile: entries are encoded straight into the mapping, the
 * bytes are exactly those of the in-memory writer, and a reader over the same file (live or
 * reopened) returns them, as views of the mapping.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import { Manager } from '../../src/aof/manager.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { rewind } from '../../src/log/rewind.ts'
import { AppendOnlyFileSink, MemorySink } from '../../src/log/sinks.ts'
import { AppendOnlyFileSource } from '../../src/log/sources.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const sizes = [0, 1, 100, 4096, 32_752, 32_753, 40_000, 0, 7, 300_000, 15]

function entryOf(size: number, seed: number): Uint8Array {
  const entry = new Uint8Array(size)
  for (let i = 0; i < size; i++) entry[i] = (i + seed * 13) & 0xff
  return entry
}

function manager(t: TestContext): Manager {
  const created = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => created.close())
  return created
}

test('the writer over an AppendOnlyFile writes the bytes of the in-memory writer', async (t) => {
  const files = manager(t)
  const file = files.open('log.aof', { create: true })
  const writer = new LogWriter(new AppendOnlyFileSink(file))
  const memory = new MemorySink()
  const reference = new LogWriter(memory)
  const entries = sizes.map(entryOf)
  for (const entry of entries) assert.equal(writer.append(entry), reference.append(entry))
  assert.equal(file.size, memory.size)
  assert.ok(Buffer.from(file.contents()).equals(memory.bytes()))

  // A reader over the live file, then rewind from its end.
  const source = new AppendOnlyFileSource(file)
  const reader = new LogReader(source)
  const nonEmpty = entries.filter((e) => e.length > 0)
  for (const entry of nonEmpty) {
    const got = reader.read()
    assert.deepEqual(got, entry)
  }
  assert.equal(reader.read(), null)
  const last = rewind(source, source.size)
  assert.equal(last, memory.size - 15 - 15)
  await file.sync()
  await file.close()

  // Reopened: the same entries, the small ones as views of the mapping.
  const reopened = files.open('log.aof')
  const again = new LogReader(new AppendOnlyFileSource(reopened))
  const first = again.read() as Uint8Array
  assert.deepEqual(first, nonEmpty[0])
  assert.equal(first.buffer, reopened.contents().buffer)
  let count = 1
  while (again.read() !== null) count++
  assert.equal(count, nonEmpty.length)
  await reopened.close()
})

test('a failed append (file full) writes nothing and leaves the log readable', async (t) => {
  const files = manager(t)
  const file = files.open('small.aof', { create: true, geometry: { sizeNow: 65536, sizeUpper: 65536, growthStep: 65536 } })
  const writer = new LogWriter(new AppendOnlyFileSink(file))
  writer.append(entryOf(1000, 1))
  const before = file.size
  assert.throws(() => writer.append(entryOf(64_600, 2)), (e: unknown) => (e as { code?: string }).code === 'ERR_AOF_FULL')
  assert.equal(file.size, before)
  assert.equal(writer.position, before)
  writer.append(entryOf(10, 3))
  const reader = new LogReader(new AppendOnlyFileSource(file))
  assert.equal(reader.read()?.length, 1000)
  assert.equal(reader.read()?.length, 10)
  assert.equal(reader.read(), null)
  await file.close()
})
