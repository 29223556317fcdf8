// Guarantee 7 of the README: a file or sidecar truncated under a writer, a reader or
// a read-only open in another process raises no SIGBUS there. What the file lost reads as zeros
// in the mappings, and the library reports it with ERR_AOF_REPLACED: the writer's sync(), the
// reader's end, an open whose recovery read it. AOFKIT_SOAK=1 races `aof inspect` with
// finish() for longer.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, ErrorCode, RecoveryReadOnly, recoverWithMagic } from '../../src/index.ts'
import type { AofkitError, Recovery } from '../../src/index.ts'
import { ROOT, spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { until } from '../helpers/until.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'

/** The last JSON line a child printed, once it exited by itself (not by a signal). */
async function resultOf(child: Child, name: string): Promise<Record<string, unknown>> {
  const { code, signal } = await child.exited
  assert.equal(signal, null, `${name} was killed by ${signal}: ${child.stderr()}`)
  assert.equal(code, 0, `${name}: ${child.stderr()}`)
  const lines = child.stdout().trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>
}

/** A writer and a reader in two other processes, the writer some way into its file. */
async function writerAndReader(t: TestContext, path: string): Promise<{ writer: Child; reader: Child }> {
  const writer = spawnHelper('steady-writer.ts', [path], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL')) // a failed test must not leave it running
  await writer.waitFor('ready')
  const reader = spawnHelper('follow-child.ts', [path])
  t.after(() => reader.process.kill('SIGKILL'))
  await reader.waitFor('ready')
  await until(() => statSync(path).size >= 128 << 10, 'the writer to grow its file')
  return { writer, reader }
}

for (const cut of ['to 0', 'to a page', 'to half']) {
  test(`the data file cut ${cut} under a writer and a reader in other processes`, async (t) => {
    const path = join(tmpDir(t), 'f')
    const { writer, reader } = await writerAndReader(t, path)
    const size = statSync(path).size
    truncateSync(path, cut === 'to 0' ? 0 : cut === 'to a page' ? 4096 : Math.floor(size / 2) + 100)
    const read = await resultOf(reader, 'the reader')
    assert.equal(read['error'], 'ERR_AOF_REPLACED')
    // Its stores meet the lost pages, or its growth extends the file again over a hole: either
    // way its sync() must say that its data is lost.
    await until(() => statSync(path).size > size, 'the writer to grow its file again')
    writer.process.stdin!.end('stop\n')
    const written = await resultOf(writer, 'the writer')
    assert.ok((written['writes'] as number) > 0)
    assert.deepEqual(written['errors'], ['ERR_AOF_REPLACED'])
  })
}

test('the sidecar cut under a writer and a reader in other processes', async (t) => {
  const path = join(tmpDir(t), 'f')
  const { writer, reader } = await writerAndReader(t, path)
  truncateSync(`${path}-shm`, 0)
  const read = await resultOf(reader, 'the reader')
  assert.equal(read['error'], 'ERR_AOF_REPLACED')
  // The writer's data is intact: it goes on writing and syncing.
  const before = statSync(path).size
  await until(() => statSync(path).size > before, 'the writer to write on')
  writer.process.stdin!.end('stop\n')
  const written = await resultOf(writer, 'the writer')
  assert.deepEqual(written['errors'], [])
})

test('a finished file opened read-only, then cut, reads zeros and opens as replaced', async (t) => {
  const path = join(tmpDir(t), 'f')
  const file = AppendOnlyFile.open(path, { create: true })
  file.write(new Uint8Array(64 << 10).fill(1))
  await file.finish()
  await file.close()
  const script = `
    import { AppendOnlyFile } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)}
    const file = AppendOnlyFile.open(process.argv[1])
    process.stdout.write('ready\\n')
    process.stdin.once('data', () => {
      const contents = file.contents()
      let sum = 0
      for (const byte of contents) sum += byte
      const copy = structuredClone(contents)
      process.stdout.write(JSON.stringify({ length: contents.length, sum, copied: copy.length }) + '\\n')
      process.exit(0)
    })
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { cwd: ROOT })
  const out: string[] = []
  child.stdout.setEncoding('utf8').on('data', (text: string) => out.push(text))
  await until(() => out.join('').includes('ready'), 'the read-only open')
  truncateSync(path, 4096)
  child.stdin.write('go\n')
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])))
  assert.equal(signal, null, 'no SIGBUS')
  assert.equal(code, 0)
  const result = JSON.parse(out.join('').trim().split('\n').pop()!) as { length: number; sum: number; copied: number }
  assert.equal(result.length, 64 << 10)
  assert.equal(result.sum, 4096, 'what the file kept, then zeros')
  assert.equal(result.copied, 64 << 10)

  // Opened again while it is cut: the read-only open's recovery reads zeros where the file
  // was, and the open fails as replaced instead of reporting what it never read. The cut is
  // made by the recovery function itself, at the moment recovery reads the mapping.
  const again = join(tmpDir(t), 'g')
  const writer = AppendOnlyFile.open(again, { create: true })
  writer.write(new Uint8Array(64 << 10).fill(1))
  await writer.finish()
  await writer.close()
  let cuts = 0
  const cutWhileRead: Recovery = {
    ...RecoveryReadOnly,
    fn: (fileSize, bytes, magic) => {
      cuts++
      truncateSync(again, 4096)
      return recoverWithMagic(fileSize, bytes, magic)
    },
  }
  assert.throws(() => AppendOnlyFile.open(again, { recovery: cutWhileRead }), { code: ErrorCode.Replaced })
  assert.equal(cuts, 1)
  assert.equal(statSync(again).size, 4096)
})

test('aof inspect races a writer that finishes, and never dies of SIGBUS', { timeout: SOAK ? 1_800_000 : 120_000 }, async (t) => {
  const dir = tmpDir(t)
  const rounds = SOAK ? 100 : 4
  for (let round = 0; round < rounds; round++) {
    const path = join(dir, `f${round}`)
    // Much allocated, little written: finish() cuts most of the file while inspect scans it.
    const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeNow: 256 << 20, sizeUpper: 256 << 20 } })
    file.write(new Uint8Array(1000).fill(2))
    await file.sync()
    const inspect = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', path], { cwd: ROOT, stdio: 'ignore' })
    const exited = new Promise<[number | null, string | null]>((resolve) => inspect.on('close', (c, s) => resolve([c, s])))
    // Finish as soon as inspect has mapped the file, while its recovery scans the zeros.
    const mapped = (): boolean => {
      try {
        return readFileSync(`/proc/${inspect.pid}/maps`, 'utf8').includes(path)
      } catch {
        return true // gone already
      }
    }
    await until(mapped, 'inspect to map the file')
    await file.finish()
    await file.close()
    const [code, signal] = await exited
    assert.equal(signal, null, `round ${round}: inspect was killed by ${signal}`)
    assert.notEqual(code, null)
  }
})

test('a writer whose file was cut fails its sync(), also when its growth extended the file again first', async (t) => {
  const path = join(tmpDir(t), 'f')
  const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeNow: 64 << 10, growthStep: 64 << 10, sizeUpper: 16 << 20 } })
  t.after(() => file.close())
  file.write(new Uint8Array(1000).fill(1))
  await file.sync()
  const allocated = statSync(path).size
  truncateSync(path, 4096)
  // Needs more than is allocated: the write grows the file first, over a hole where the cut
  // was, and its stores land in the file, so no page faults.
  file.write(new Uint8Array(allocated - file.size).fill(2))
  assert.ok(statSync(path).size > allocated)
  await assert.rejects(file.sync(), { code: 'ERR_AOF_REPLACED' })
})

test('a sidecar cut under a reader and written again by its writer (a sync record) reads as replaced, not as a writer that closed', (t) => {
  const path = join(tmpDir(t), 'f')
  const file = AppendOnlyFile.open(path, { create: true })
  t.after(() => file.close())
  file.write(new Uint8Array(100).fill(1))
  const reader = AppendOnlyFile.openReader(path)
  t.after(() => reader.close())
  // The cut, then a write into the cut file, as the writer's sync() makes: the page is back,
  // all zeros but the write, so the reader's loads find it without a fault.
  truncateSync(`${path}-shm`, 0)
  const fd = openSync(`${path}-shm`, 'r+')
  writeSync(fd, new Uint8Array(4096), 0, 4096, 0)
  closeSync(fd)
  assert.equal((reader.failure as AofkitError | null)?.code, ErrorCode.Replaced)
})

test('a sidecar page being claimed by the next writer (its magic cleared first) is not a cut sidecar to a reader waiting for that writer', async (t) => {
  const path = join(tmpDir(t), 'f')
  const file = AppendOnlyFile.open(path, { create: true })
  file.write(new Uint8Array(100).fill(1))
  const reader = AppendOnlyFile.openReader(path, { waitForWriter: true })
  t.after(() => reader.close())
  await file.close()
  // The next writer's open clears the page's magic, rewrites the page, then sets the magic
  // again (Sidecar.initialize): a reader's check in between sees the page as here.
  const fd = openSync(`${path}-shm`, 'r+')
  writeSync(fd, new Uint8Array(4), 0, 4, 0)
  closeSync(fd)
  assert.equal(reader.failure, null)
  // A cut page has lost its version too, and is still reported (the test above).
})
