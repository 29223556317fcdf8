/**
 * LogReader behaviour beyond the vectors: views versus copies, iteration and how errors surface
 * in it, entry offsets, starting mid-log, and the final state after the end.
 */
import assert from 'node:assert/strict'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { BLOCK_SIZE } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { FileSource, MemorySource } from '../../src/log/sources.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function build(sizes: number[]): { bytes: Uint8Array; entries: Uint8Array[]; offsets: number[] } {
  const sink = new MemorySink()
  const writer = new LogWriter(sink)
  const entries = sizes.map((size, index) => new Uint8Array(size).fill(index + 1))
  const offsets = entries.map((entry) => writer.append(entry))
  return { bytes: sink.bytes().slice(), entries, offsets }
}

test('single-record entries from memory are views; multi-record entries and file entries are copies', (t) => {
  const { bytes, entries } = build([100, 50_000])
  const reader = new LogReader(new MemorySource(bytes))
  const small = reader.read() as Uint8Array
  assert.equal(small.buffer, bytes.buffer, 'a view of the source')
  assert.deepEqual(small, entries[0])
  const large = reader.read() as Uint8Array
  assert.notEqual(large.buffer, bytes.buffer)
  assert.deepEqual(large, entries[1])

  const path = join(tmpDir(t), 'log')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, bytes)
  const fromFile = new LogReader(new FileSource(fd))
  const first = fromFile.read() as Uint8Array
  const second = fromFile.read() as Uint8Array
  assert.deepEqual(first, entries[0])
  assert.deepEqual(second, entries[1])
  // Copies: changing them changes nothing else, and the next entries are unaffected.
  first.fill(0)
  assert.deepEqual(new LogReader(new MemorySource(bytes)).read(), entries[0])
})

test('iteration yields every entry; entryOffset tells where each starts', () => {
  const { bytes, entries, offsets } = build([0, 3, 32_760, 100_000, 1, 0])
  const reader = new LogReader(new MemorySource(bytes))
  const seen: number[] = []
  const got: Uint8Array[] = []
  for (const entry of reader) {
    got.push(entry)
    seen.push(reader.entryOffset)
  }
  const nonEmpty = entries.map((e, i) => [e, offsets[i]] as const).filter(([e]) => e.length > 0)
  assert.deepEqual(got, nonEmpty.map(([e]) => e))
  assert.deepEqual(seen, nonEmpty.map(([, o]) => o))
  assert.equal(reader.read(), null)
})

test('an error ends a for-of loop; iterating again continues after the resync', () => {
  const { bytes } = build([10, 10, 40_000, 10])
  bytes[20] = (bytes[20] as number) ^ 0xff // The first entry's data: its checksum fails.
  const reader = new LogReader(new MemorySource(bytes))
  const got: number[] = []
  let errors = 0
  for (;;) {
    try {
      for (const entry of reader) got.push(entry.length)
      break
    } catch (error) {
      assert.ok(isAofkitError(error, 'ERR_LOG_CORRUPTED'))
      errors++
    }
  }
  // Resync drops the rest of block 0 (the second entry and the 40000-byte entry's FIRST), skips
  // that entry's LAST in block 1, and finds the last entry.
  assert.deepEqual(got, [10])
  assert.equal(errors, 1)
})

test('a reader can start at any entry offset', () => {
  const { bytes, entries, offsets } = build([5, 40_000, 7, 32_753, 9])
  offsets.forEach((offset, index) => {
    const reader = new LogReader(new MemorySource(bytes), { offset })
    assert.deepEqual(reader.read(), entries[index])
  })
})

test('a window of a file keeps its block alignment through baseOffset', () => {
  const { bytes, entries, offsets } = build([5, 40_000, 7])
  const base = offsets[1] as number
  const reader = new LogReader(new MemorySource(bytes.subarray(base), base), { offset: base })
  assert.deepEqual(reader.read(), entries[1])
  assert.deepEqual(reader.read(), entries[2])
  assert.equal(reader.read(), null)
})

test('ERR_LOG_UNEXPECTED_EOF is final and repeats', () => {
  const { bytes } = build([100, 40_000])
  const reader = new LogReader(new MemorySource(bytes.subarray(0, BLOCK_SIZE)))
  assert.equal(reader.read()?.length, 100)
  for (let i = 0; i < 3; i++) {
    assert.throws(() => reader.read(), (e: unknown) => isAofkitError(e, 'ERR_LOG_UNEXPECTED_EOF'))
  }
})

test('bad offset throws ERR_AOF_INVALID_ARGUMENT', () => {
  assert.throws(
    () => new LogReader(new MemorySource(new Uint8Array(0)), { offset: -5 }),
    (e: unknown) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'),
  )
})

test('two readers of one file source, read in turns, each get their own entries (the source refills its buffer between them)', (t) => {
  // Entries of 1000 bytes over a 32 KiB chunk: every few entries the other reader has moved
  // the shared chunk elsewhere.
  const { bytes, entries } = build(Array.from({ length: 300 }, () => 1000))
  const path = join(tmpDir(t), 'log')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, bytes)
  const source = new FileSource(fd, { chunkSize: BLOCK_SIZE })
  const early = new LogReader(source)
  const late = new LogReader(source)
  for (let index = 0; index < 150; index++) assert.deepEqual(late.read(), entries[index])
  for (let index = 0; index < 150; index++) {
    assert.deepEqual(early.read(), entries[index], `early reader, entry ${index}`)
    assert.deepEqual(late.read(), entries[150 + index], `late reader, entry ${150 + index}`)
  }
  assert.equal(late.read(), null)
})

test('a damaged record is found wherever the source keeps its bytes: in memory, or in a file', (t) => {
  // A file's blocks are checked against one copy of each block; a corrupted
  // record in the middle of a block must fail there as in memory, and the others pass.
  const sizes = Array.from({ length: 200 }, (_, index) => 20 + (index % 7) * 30)
  const { bytes, entries, offsets } = build(sizes)
  const damaged = 57
  bytes[(offsets[damaged] as number) + 15 + 3]! ^= 0x01
  const path = join(tmpDir(t), 'log')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, bytes)
  for (const [name, source] of [
    ['memory', new MemorySource(bytes)],
    ['file', new FileSource(fd)],
  ] as const) {
    const reader = new LogReader(source)
    for (let index = 0; index < damaged; index++) assert.deepEqual(reader.read(), entries[index], `${name}: entry ${index}`)
    assert.throws(() => reader.read(), (error: unknown) => isAofkitError(error, 'ERR_LOG_CORRUPTED'), name)
  }
})

test('a block checked against one copy is taken again when the source may have changed it, and a caller’s memory is checked where it lies', (t) => {
  // In memory: bytes the caller changes after the first entry of their block was read.
  {
    const { bytes, offsets } = build([100, 100, 100])
    const reader = new LogReader(new MemorySource(bytes))
    reader.read()
    bytes[(offsets[1] as number) + 15 + 3]! ^= 0xff
    assert.throws(() => reader.read(), (error: unknown) => isAofkitError(error, 'ERR_LOG_CORRUPTED'), 'memory')
  }
  // A file source refilled by someone else (a rewind, a scan) after the file changed on disk:
  // its generation tells the reader to take the block again, and the damage is found.
  {
    const { bytes, offsets } = build(Array.from({ length: 1000 }, () => 100))
    const fd = openSync(join(tmpDir(t), 'log'), 'w+')
    t.after(() => closeSync(fd))
    writeSync(fd, bytes)
    const source = new FileSource(fd, { chunkSize: BLOCK_SIZE })
    const reader = new LogReader(source)
    reader.read()
    writeSync(fd, new Uint8Array([0xee]), 0, 1, (offsets[1] as number) + 15 + 3)
    source.read(2 * BLOCK_SIZE, 10)
    assert.throws(() => reader.read(), (error: unknown) => isAofkitError(error, 'ERR_LOG_CORRUPTED'), 'file')
  }
})

test('readers taking turns on one file each read every entry of theirs', (t) => {
  // Each takes the staging area from the other at every entry: the check falls back to one
  // record at a time for the rest of the block, and stays right.
  const { bytes, entries } = build(Array.from({ length: 2000 }, (_, index) => 20 + (index % 13) * 17))
  const fd = openSync(join(tmpDir(t), 'log'), 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, bytes)
  const first = new LogReader(new FileSource(fd))
  const second = new LogReader(new FileSource(fd))
  for (const [index, entry] of entries.entries()) {
    assert.deepEqual(first.read(), entry, `first reader, entry ${index}`)
    assert.deepEqual(second.read(), entry, `second reader, entry ${index}`)
  }
  assert.equal(first.read(), null)
  assert.equal(second.read(), null)
})
