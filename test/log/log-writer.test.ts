/**
 * LogWriter over each sink: the same entries give the same bytes whatever the sink, large
 * entries split into pieces for a buffered file are identical to one-piece encoding, and bad
 * arguments are refused with a stable code.
 */
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { Manager } from '../../src/aof/manager.ts'
import { isAofkitError } from '../../src/errors.ts'
import { BLOCK_SIZE, encodedSize } from '../../src/log/format.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { AppendOnlyFileSink, FileSink, MemorySink } from '../../src/log/sinks.ts'
import type { LogSink } from '../../src/log/sinks.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { notBytes as notBytesList } from '../helpers/not-bytes.ts'

function entries(): Uint8Array[] {
  const sizes = [0, 1, 100, 32737, 32753, 0, 5, 70_000, 3 * 32753 + 1, 400_000, 10]
  return sizes.map((size, index) => {
    const entry = new Uint8Array(size)
    for (let i = 0; i < size; i++) entry[i] = (i * 31 + index) & 0xff
    return entry
  })
}

function inMemory(list: Uint8Array[], initial?: Uint8Array): Uint8Array {
  const sink = new MemorySink(initial === undefined ? {} : { initial, capacity: 16 })
  const writer = new LogWriter(sink)
  for (const entry of list) writer.append(entry)
  return sink.bytes()
}

test('a file sink with the smallest buffer writes the same bytes as memory (large entries in pieces)', (t) => {
  const dir = tmpDir(t)
  for (const bufferSize of [2 * BLOCK_SIZE, 3 * BLOCK_SIZE + 5, 1 << 20]) {
    for (const start of [0, 7, 32760]) {
      const prefix = new Uint8Array(start).fill(0xee)
      const path = join(dir, `log-${bufferSize}-${start}`)
      writeFileSync(path, prefix)
      const fd = openSync(path, 'r+')
      try {
        const writer = new LogWriter(new FileSink(fd, { bufferSize, path }))
        for (const entry of entries()) writer.append(entry)
        writer.flush()
      } finally {
        closeSync(fd)
      }
      assert.ok(readFileSync(path).equals(inMemory(entries(), prefix)), `buffer ${bufferSize} start ${start}`)
    }
  }
})

test('a FileHandle works as a file sink, and sync() resolves after the data is written', async (t) => {
  const path = join(tmpDir(t), 'handle.log')
  const handle = await open(path, 'w+')
  try {
    const sink = new FileSink(handle)
    const writer = new LogWriter(sink)
    for (const entry of entries()) writer.append(entry)
    await sink.sync()
  } finally {
    await handle.close()
  }
  assert.ok(readFileSync(path).equals(inMemory(entries())))
})

test('append returns where the entry starts; tell() keeps the reference quirk at 1..14', () => {
  const writer = new LogWriter(new MemorySink({ initial: new Uint8Array(10) }))
  assert.equal(writer.tell(), 10)
  assert.equal(writer.append(new Uint8Array(3)), BLOCK_SIZE)
  assert.equal(writer.tell(), BLOCK_SIZE + 18)
  assert.equal(writer.append(new Uint8Array(0)), BLOCK_SIZE + 18)
})

test('bad arguments throw ERR_AOF_INVALID_ARGUMENT', () => {
  const invalid = (error: unknown) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT')
  assert.throws(() => new LogWriter(new MemorySink(), { offset: -1 }), invalid)
  assert.throws(() => new LogWriter(new MemorySink(), { offset: 0.5 }), invalid)
  assert.throws(() => new LogWriter({ size: 0, appendSizeMax: 1000, append() {}, flush() {} }), invalid)
  assert.throws(() => new FileSink(0, { bufferSize: 1024, position: 0 }), invalid)
})

test('a failing sink leaves the writer position at what the sink accepted', () => {
  let fail = false
  const sink = new MemorySink()
  const failing = {
    get size() {
      return sink.size
    },
    appendSizeMax: Infinity,
    append(size: number, fill: (target: Uint8Array, at: number) => void) {
      if (fail) throw new Error('disk on fire')
      sink.append(size, fill)
    },
    flush() {},
  }
  const writer = new LogWriter(failing)
  writer.append(new Uint8Array(10))
  fail = true
  assert.throws(() => writer.append(new Uint8Array(10)), /disk on fire/)
  assert.equal(writer.position, 25)
  fail = false
  writer.append(new Uint8Array(10))
  assert.equal(writer.position, 50)
})

test('append refuses anything but bytes with ERR_AOF_INVALID_ARGUMENT, on every sink, writing nothing', (t) => {
  const dir = tmpDir(t)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  const fd = openSync(join(dir, 'plain.log'), 'w+')
  t.after(() => closeSync(fd))
  const file = manager.open('log.aof', { create: true })
  const sinks: [string, LogSink, () => Uint8Array][] = [
    ['memory', new MemorySink(), () => new Uint8Array(0)],
    ['file', new FileSink(fd), () => readFileSync(join(dir, 'plain.log'))],
    ['append-only file', new AppendOnlyFileSink(file), () => file.contents().slice()],
  ]
  const notBytes = notBytesList()
  for (const [name, sink, bytesOf] of sinks) {
    const writer = new LogWriter(sink)
    writer.append(new Uint8Array([7, 7, 7]))
    writer.flush()
    const before = Buffer.from(bytesOf())
    const { size } = sink
    for (const value of notBytes) {
      assert.throws(
        () => writer.append(value as Uint8Array),
        (error: unknown) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT'),
        `${name}: ${typeof value === 'symbol' ? 'a symbol' : value instanceof Uint8Array ? 'a Proxy' : JSON.stringify(value)}`,
      )
    }
    writer.flush()
    assert.equal(sink.size, size, name)
    assert.equal(writer.position, size, name)
    assert.ok(Buffer.from(bytesOf()).equals(before), `${name}: bytes changed`)
    // Bytes of any kind are taken: a Buffer, a view into a larger buffer.
    writer.append(Buffer.from('ok'))
    writer.append(new Uint8Array(10).subarray(2, 5))
  }
})

test('a memory sink refuses a capacity that is not a byte count (it used to spin on the first append)', () => {
  for (const capacity of [NaN, -1, 0.5, Infinity, '64', {}, [], 2 ** 53]) {
    assert.throws(
      () => new MemorySink({ capacity: capacity as number }),
      (error: unknown) => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT'),
      JSON.stringify(capacity),
    )
  }
  assert.throws(() => new MemorySink({ initial: 'abc' as unknown as Uint8Array }), (error: unknown) =>
    isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT'),
  )
  // Small and zero capacities grow as needed.
  for (const capacity of [0, 1, 17]) {
    const sink = new MemorySink({ capacity })
    const writer = new LogWriter(sink)
    writer.append(new Uint8Array(100_000))
    assert.equal(sink.size, encodedSize(0, 100_000))
  }
})
