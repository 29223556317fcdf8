// The memory safety the addon enforces by itself for mappings: a reservation past the file's
// end reads as zeros, a page the file loses under a mapping reads as zeros and is counted
// (instead of a SIGBUS that ends the process), sizes Node.js cannot view are refused, and a
// range with an asynchronous call in flight is not unmapped under it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, ftruncateSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'

import * as native from '../../src/native/binding.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const page = native.pageSize
const linux = process.platform === 'linux'
const bindingUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'native', 'binding.ts')).href

/** How many regions of this process map `path` (from /proc/self/maps). */
function regionsOf(path: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${path}`)).length
}

/** Runs `code` (an ES module with the binding as `native`) in a fresh Node process. */
function runScript(code: string, args: readonly string[] = []): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const source = `import * as native from ${JSON.stringify(bindingUrl)}\n${code}`
  const result = spawnSync(process.execPath, [...args, '--import', 'tsx', '--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

test('the reservation past the file reads as zeros, and can be cloned', (t) => {
  const path = join(tmpDir(t), 'f')
  writeFileSync(path, Buffer.alloc(100, 7))
  const fd = openSync(path, 'r')
  t.after(() => closeSync(fd))
  const mapping = native.map(fd, 64 * page, false)
  t.after(() => native.unmap(mapping))
  const bytes = new Uint8Array(mapping)
  assert.equal(bytes[99], 7)
  assert.equal(bytes[100], 0, 'the rest of the last page')
  for (const offset of [page, 5 * page + 3, 64 * page - 1]) assert.equal(bytes[offset], 0, `offset ${offset}`)
  const copy = structuredClone(bytes.subarray(0, 10))
  assert.equal(copy.buffer.byteLength, 64 * page, 'a clone copies the whole buffer, past the end too')
  assert.equal(new Uint8Array(copy.buffer)[63 * page], 0)
  assert.equal(native.faults(mapping), 0, 'zeros past the end are not faults')
})

test('fitMapping maps the file over what it grew and zeros over what it lost', (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  const mapping = native.map(fd, 16 * page, true)
  t.after(() => native.unmap(mapping))
  const bytes = new Uint8Array(mapping)
  bytes[3 * page] = 9 // the anonymous reservation: never reaches the file
  native.fallocate(fd, 0, 4 * page)
  assert.equal(native.fitMapping(mapping, fd), 4 * page)
  assert.equal(bytes[3 * page], 0, 'the file replaced the reservation')
  bytes.set([1, 2, 3], 3 * page)
  native.msync(mapping, 0, 4 * page, true)
  assert.deepEqual([...readFileSync(path).subarray(3 * page, 3 * page + 3)], [1, 2, 3])
  assert.throws(() => native.msync(mapping, 0, 5 * page, true), RangeError, 'only the file-backed part')
  ftruncateSync(fd, page + 1)
  assert.equal(native.fitMapping(mapping, fd, true), 2 * page)
  assert.equal(bytes[3 * page], 0)
  assert.equal(native.faults(mapping), 0, 'a cut the caller made itself is no loss')
  native.fallocate(fd, 0, 4 * page)
  assert.equal(native.fitMapping(mapping, fd), 4 * page)
  ftruncateSync(fd, page) // someone else's cut, found by the next fit: two pages lost
  native.fallocate(fd, 0, 5 * page)
  assert.equal(native.fitMapping(mapping, fd), 5 * page)
  assert.equal(native.faults(mapping), 0, 'the cut went unseen: the file is longer again')
  ftruncateSync(fd, page)
  assert.equal(native.fitMapping(mapping, fd), page)
  assert.equal(native.faults(mapping), 4, 'four pages found cut')
  const other = openSync(join(tmpDir(t), 'other'), 'w+')
  t.after(() => closeSync(other))
  assert.throws(() => native.fitMapping(mapping, other), { code: 'EINVAL' }, 'only the mapped file')
})

test('a page the file loses under the mapping reads as zeros and is counted', (t) => {
  const path = join(tmpDir(t), 'f')
  for (const writable of [false, true]) {
    writeFileSync(path, Buffer.alloc(8 * page, 5))
    const fd = openSync(path, 'r+')
    t.after(() => closeSync(fd))
    const mapping = native.map(fd, 8 * page, writable)
    const bytes = new Uint8Array(mapping)
    assert.equal(bytes[6 * page], 5)
    // Someone else cuts the file: without the handler, the next access is a SIGBUS.
    truncateSync(path, 2 * page)
    assert.equal(bytes[6 * page], 0)
    assert.equal(bytes[2 * page + 1], 0)
    assert.equal(bytes[page], 5, 'what the file still has is untouched')
    assert.equal(native.faults(mapping), 2)
    if (writable) {
      bytes[7 * page] = 1 // a store lands in the zero page, not in the file
      assert.equal(bytes[7 * page], 1)
    }
    assert.equal(structuredClone(bytes).length, 8 * page)
    assert.equal(native.faults(mapping), 6, 'each lost page once')
    native.unmap(mapping)
  }
})

test('a SIGBUS that is not ours goes to the handler before ours, or ends the process', { skip: !linux }, () => {
  const exe = JSON.stringify(process.execPath)
  const plain = runScript(`
    import { openSync } from 'node:fs'
    native.map(openSync(${exe}, 'r'), native.pageSize, false) // installs the handler
    process.kill(process.pid, 'SIGBUS')
    setTimeout(() => process.stdout.write('survived\\n'), 200)
  `)
  assert.equal(plain.signal, 'SIGBUS', plain.stderr)
  assert.equal(plain.stdout, '')
  const chained = runScript(`
    import { openSync } from 'node:fs'
    process.on('SIGBUS', () => {
      process.stdout.write('listener\\n')
      process.exit(0)
    })
    native.map(openSync(${exe}, 'r'), native.pageSize, false)
    process.kill(process.pid, 'SIGBUS')
    setTimeout(() => process.stdout.write('not delivered\\n'), 5000)
  `)
  assert.equal(chained.status, 0, chained.stderr)
  assert.equal(chained.stdout, 'listener\n')
})

test('map refuses a length Node.js cannot view, and the process lives', { skip: !linux }, (t) => {
  // A sparse 5 GiB file: mapping all of it failed in the buffer, which was freed twice.
  const path = join(tmpDir(t), 'big')
  const fd = openSync(path, 'w')
  ftruncateSync(fd, 5 * 1024 ** 3)
  closeSync(fd)
  const result = runScript(`
    import { openSync } from 'node:fs'
    const fd = openSync(${JSON.stringify(path)}, 'r')
    for (const length of [5 * 1024 ** 3, 2 ** 32 + native.pageSize]) {
      try {
        native.map(fd, length, false)
        process.stdout.write('mapped ' + length + '\\n')
      } catch (error) {
        process.stdout.write(error.code + '\\n')
      }
    }
    const small = native.map(fd, native.pageSize, false)
    process.stdout.write('still mapping ' + small.byteLength + '\\n')
  `)
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stdout, `EFBIG\nEFBIG\nstill mapping ${page}\n`)
})

test('openReader of a file over 4 GiB without a writer opens it without mapping it, and the process lives', { skip: !linux }, (t) => {
  const path = join(tmpDir(t), 'big')
  const fd = openSync(path, 'w')
  ftruncateSync(fd, 5 * 1024 ** 3)
  closeSync(fd)
  const index = JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'index.ts')).href)
  const result = runScript(`
    import { AppendOnlyFile } from ${index}
    try {
      AppendOnlyFile.openReader(${JSON.stringify(path)}).close()
      process.stdout.write('opened\\n')
    } catch (error) {
      process.stdout.write('refused\\n')
    }
  `)
  assert.equal(result.signal, null, result.stderr)
  assert.equal(result.status, 0, result.stderr)
  // A reader reads such a file's end with pread (test/aof/reader-open.test.ts reads one).
  assert.equal(result.stdout, 'opened\n')
})

test('unmap with an asynchronous call in flight unmaps when it returns', { skip: !linux }, async (t) => {
  const path = join(tmpDir(t), 'f')
  const fd = openSync(path, 'w+')
  t.after(() => closeSync(fd))
  const length = 256 * page
  native.fallocate(fd, 0, length)
  for (const start of [
    (mapping: ArrayBuffer) => native.msyncAsync(mapping, 0, length, true),
    (mapping: ArrayBuffer) => native.madviseAsync(mapping, 0, length, native.advice.populateWrite < 0 ? 3 /* MADV_WILLNEED */ : native.advice.populateWrite),
  ]) {
    const mapping = native.map(fd, length, true)
    new Uint8Array(mapping).fill(1)
    const job = start(mapping)
    assert.equal(native.mappingJobs(mapping), 1)
    native.unmap(mapping)
    assert.equal(mapping.byteLength, 0, 'detached at once')
    assert.ok(regionsOf(path) > 0, 'still mapped while the call runs')
    // Unmapped under it, the call fails with ENOMEM.
    assert.equal(await job, 0)
    assert.equal(regionsOf(path), 0, 'unmapped once it returned')
  }
})
