/**
 * rewind walks a log backwards: from the end, each call gives the previous entry's offset,
 * through files of every shape our writer makes, from memory and from a file.
 */
import assert from 'node:assert/strict'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { rewind } from '../../src/log/rewind.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { FileSource, MemorySource } from '../../src/log/sources.ts'
import type { LogSource } from '../../src/log/sources.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function walk(source: LogSource): number[] {
  const offsets: number[] = []
  for (let at = rewind(source, source.size); at !== null; at = rewind(source, at)) offsets.push(at)
  return offsets.reverse()
}

test('walking back from the end visits every non-empty entry, last to first', (t) => {
  const sink = new MemorySink()
  const writer = new LogWriter(sink)
  const sizes = [1, 0, 32_737, 32_753, 16, 100_000, 5, 65_506, 3]
  const offsets = sizes.map((size) => ({ size, offset: writer.append(new Uint8Array(size).fill(1)) }))
  const expected = offsets.filter((o) => o.size > 0).map((o) => o.offset)
  assert.deepEqual(walk(new MemorySource(sink.bytes())), expected)

  const fd = openSync(join(tmpDir(t), 'log'), 'w+')
  t.after(() => closeSync(fd))
  writeSync(fd, sink.bytes())
  assert.deepEqual(walk(new FileSource(fd, { chunkSize: 65536 })), expected)
})

test('rewind on an empty or tiny log finds nothing; a bad limit is refused', () => {
  assert.equal(rewind(new MemorySource(new Uint8Array(0)), 0), null)
  assert.equal(rewind(new MemorySource(new Uint8Array(15)), 15), null)
  assert.equal(rewind(new MemorySource(new Uint8Array(100)), 100), null)
  assert.throws(() => rewind(new MemorySource(new Uint8Array(0)), -1), (e: unknown) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
})
