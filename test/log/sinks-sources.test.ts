// The record log's sinks and sources on their own, on real files: what each holds and returns,
// where a FileSink writes and when its bytes reach the file, and a FileSource's chunked reads
// forward and backward across chunk boundaries.
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Manager } from '../../src/aof/manager.ts'
import { AppendOnlyFileSink, FileSink, MemorySink } from '../../src/log/sinks.ts'
import { AppendOnlyFileSource, FileSource, MemorySource } from '../../src/log/sources.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Appends `bytes` to `sink` through its fill callback. */
function put(sink: { append(size: number, fill: (target: Uint8Array, at: number) => void): void }, bytes: Uint8Array): void {
  sink.append(bytes.length, (target, at) => target.set(bytes, at))
}

/** `length` bytes counting up from `first` (mod 251), so every offset's byte is known. */
function pattern(length: number, first = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, k) => (first + k) % 251)
}

test('MemorySink holds what was appended, after its initial bytes, growing past its capacity', () => {
  const sink = new MemorySink({ initial: Uint8Array.of(9, 9), capacity: 16 })
  assert.equal(sink.size, 2)
  put(sink, pattern(100))
  assert.equal(sink.size, 102)
  assert.deepEqual(sink.bytes(), Uint8Array.from([9, 9, ...pattern(100)]))
  let threw = false
  try {
    sink.append(10, () => {
      throw new Error('fill failed')
    })
  } catch {
    threw = true
  }
  assert.ok(threw)
  assert.equal(sink.size, 102, 'a failed fill appends nothing')
})

test('MemorySource reads within its bytes at absolute offsets, empty past the end', () => {
  const source = new MemorySource(pattern(100), 1000)
  assert.equal(source.size, 1100)
  assert.deepEqual(source.read(1010, 5), pattern(5, 10))
  assert.deepEqual(source.read(1095, 50), pattern(5, 95))
  assert.equal(source.read(1100, 10).length, 0)
})

test('FileSink writes at the file\'s end by default or at its position, when its buffer fills or on flush', (t) => {
  const path = join(tmpDir(t), 'log')
  writeFileSync(path, Uint8Array.of(1, 2, 3))
  const fd = openSync(path, 'r+')
  t.after(() => closeSync(fd))
  const sink = new FileSink(fd, { path })
  assert.equal(sink.size, 3)
  put(sink, pattern(10))
  assert.equal(sink.size, 13)
  assert.equal(readFileSync(path).length, 3, 'buffered until flushed')
  sink.flush()
  assert.deepEqual(readFileSync(path), Buffer.from([1, 2, 3, ...pattern(10)]))
  // More than the buffer holds: the full buffer goes to the file first.
  put(sink, pattern(40_000))
  put(sink, pattern(40_000, 7))
  assert.ok(readFileSync(path).length >= 13 + 40_000)
  sink.flush()
  assert.equal(readFileSync(path).length, 13 + 80_000)
  assert.deepEqual(readFileSync(path).subarray(13 + 40_000), Buffer.from(pattern(40_000, 7)))
  const over = new FileSink(fd, { position: 1 })
  assert.equal(over.size, 1)
  put(over, Uint8Array.of(7))
  over.flush()
  assert.deepEqual(readFileSync(path).subarray(0, 3), Buffer.from([1, 7, 3]))
})

test('FileSource reads any range of the file through its chunk, forward and backward, up to its size', (t) => {
  const path = join(tmpDir(t), 'log')
  const bytes = pattern(5 * 32_768 + 100)
  writeFileSync(path, bytes)
  const fd = openSync(path, 'r')
  t.after(() => closeSync(fd))
  const source = new FileSource(fd, { chunkSize: 65_536 })
  assert.equal(source.size, bytes.length)
  const generation = source.generation
  assert.deepEqual(source.read(0, 100), bytes.subarray(0, 100))
  // Across the first chunk's end, then near the file's end, then back to the start.
  assert.deepEqual(source.read(65_536 - 50, 100), bytes.subarray(65_536 - 50, 65_536 + 50))
  assert.deepEqual(source.read(bytes.length - 30, 100), bytes.subarray(bytes.length - 30))
  assert.deepEqual(source.read(10, 20), bytes.subarray(10, 30))
  assert.notEqual(source.generation, generation, 'refills are counted')
  assert.equal(source.read(bytes.length, 10).length, 0)
  const limited = new FileSource(fd, { size: 1000 })
  assert.equal(limited.read(990, 100).length, 10)
})

test('AppendOnlyFileSink appends into the file\'s mapping, and AppendOnlyFileSource reads its committed data', async (t) => {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  const file = manager.open('log.aof', { create: true })
  file.write(pattern(5))
  const sink = new AppendOnlyFileSink(file)
  assert.equal(sink.size, 5)
  put(sink, pattern(70_000, 5))
  assert.equal(sink.size, 70_005)
  assert.equal(file.size, 70_005)
  const source = new AppendOnlyFileSource(file)
  assert.equal(source.size, 70_005)
  assert.deepEqual(source.read(32_760, 20), pattern(20, 32_760))
  await file.close()
})
