import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { SIZE_UPPER_MAX } from '../../src/aof/geometry.ts'
import { FileSink, LogWriter } from '../../src/index.ts'
import { aof } from './fixtures.ts'

// A plain file larger than any mapping (4 GiB) is read with pread like any plain file: the
// command never maps it. The file is sparse (a log's first and last blocks around a hole), so
// the test writes a few KiB; the commands that read the whole file run under AOFKIT_SOAK=1.

function writeEntries(fd: number, position: number, first: number, count: number): void {
  const writer = new LogWriter(new FileSink(fd, { position }), { offset: position })
  for (let k = first; k < first + count; k++) writer.append(Buffer.from(`entry ${k}`))
  writer.flush()
}

test('a plain record log over 4 GiB: tail and inspect read it without mapping it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-cli-large-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'big.log')
  const fd = openSync(path, 'w')
  const end = SIZE_UPPER_MAX + 32768
  writeEntries(fd, 0, 0, 3)
  writeEntries(fd, end, 100, 3)
  closeSync(fd)

  const tail = await aof(['tail', '-n', '2', path])
  assert.equal(tail.status, 0, tail.stderr)
  assert.equal(tail.stdout, 'entry 101\nentry 102\n')
  const last = await aof(['cat', '--from', String(end), path])
  assert.equal(last.status, 0, last.stderr)
  assert.equal(last.stdout, 'entry 100\nentry 101\nentry 102\n')
  const bytes = await aof(['cat', '--raw', '--from', '15', '--to', '22', path])
  assert.equal(bytes.stdout, 'entry 0')
  if (process.env['AOFKIT_SOAK'] !== '1') return
  const inspect = await aof(['inspect', '--json', path])
  const report = JSON.parse(inspect.stdout) as { container: string; content: string; dataSize: number }
  assert.deepEqual([report.container, report.content, report.dataSize > end], ['plain file', 'record log', true])
})
