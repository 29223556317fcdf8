import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import type { TestContext } from 'node:test'
import { Worker } from 'node:worker_threads'

import { AppendOnlyFile, ErrorCode, FileState, Manager, sidecarPath } from '../../src/index.ts'
import type { ReadEvent } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const followChild = join(import.meta.dirname, '..', 'helpers', 'follow-child.ts')

interface FollowResult {
  bytes: number
  sha256: string
  error: string | null
}

function followInChild(path: string, busy = false): { ready: Promise<void>; done: Promise<FollowResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', followChild, path, busy ? 'busy' : ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    if (output.startsWith('ready\n')) markReady()
  })
  const done = new Promise<FollowResult>((resolve, reject) => {
    child.once('exit', (code) => {
      const line = output.split('\n').find((candidate) => candidate.startsWith('{'))
      if (code !== 0 || line === undefined) reject(new Error(`follower exited ${code}: ${output}`))
      else resolve(JSON.parse(line) as FollowResult)
    })
  })
  return { ready, done }
}

function followInWorker(path: string): { ready: Promise<void>; done: Promise<FollowResult> } {
  const worker = new Worker(join(import.meta.dirname, '..', 'helpers', 'worker-entry.mjs'), {
    workerData: { path, busy: false, script: pathToFileURL(followChild).href },
  })
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const done = new Promise<FollowResult>((resolve, reject) => {
    worker.on('message', (message: FollowResult & { ready?: boolean }) => {
      if (message.ready === true) markReady()
      else resolve(message)
    })
    worker.once('error', reject)
  })
  return { ready, done }
}

/** Polls `condition` until it holds, up to a deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function fresh(t: TestContext) {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  const path = join(manager.dir, 'data.aof')
  return { manager, path, file: manager.open('data.aof', { create: true, geometry: { sizeUpper: 256 * 1024 * 1024 } }) }
}

test('1,000,000 writes followed by a same-process tailer, a worker thread and a child process: identical bytes', async (t) => {
  const { file, path } = fresh(t)
  const child = followInChild(path)
  const worker = followInWorker(path)
  const local = createHash('sha256')
  let localBytes = 0
  let lastEnd = 0
  file.subscribe({
    pollRead(event: ReadEvent) {
      assert.equal(event.begin, lastEnd, 'no gap, no duplicate')
      local.update(event.tail)
      localBytes += event.tail.length
      lastEnd = event.end
      return event.end
    },
    pollReadClosed: () => undefined,
  })
  await Promise.all([child.ready, worker.ready])
  const written = createHash('sha256')
  const record = Buffer.alloc(16)
  for (let i = 0; i < 1_000_000; i++) {
    const length = 4 + (i % 12)
    record.writeUInt32LE(i, 0)
    record.fill(i & 0xff, 4, length)
    const bytes = record.subarray(0, length)
    file.write(bytes)
    written.update(bytes)
    if (i % 20_000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await file.finish()
  const expected = { bytes: file.size, sha256: written.digest('hex'), error: null }
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual({ bytes: localBytes, sha256: local.digest('hex'), error: null }, expected)
  assert.deepEqual(await worker.done, expected)
  assert.deepEqual(await child.done, expected)
})

test('a reader opened before the first write follows, and stops at finish', async (t) => {
  const { file, path } = fresh(t)
  const reader = AppendOnlyFile.openReader(path)
  t.after(() => reader.close())
  assert.equal(reader.size, 0)
  assert.equal(reader.state, FileState.Opened)
  const chunks: Buffer[] = []
  const reading = (async () => {
    for await (const chunk of reader.tail()) chunks.push(Buffer.from(chunk))
    return Buffer.concat(chunks).toString()
  })()
  // The follower waits for the writer before the first write (its wake-up is set up then),
  // and has the first write before the second.
  await until(() => reader.wakeup !== null, 'the follower to wait')
  file.write(Buffer.from('first '))
  await until(() => Buffer.concat(chunks).toString() === 'first ', 'the first write to reach the follower')
  file.write(Buffer.from('second'))
  await file.finish()
  assert.equal(await reading, 'first second')
  assert.equal(reader.state, FileState.EOF)
})

test('a finished file is read to its end; a busy-polling reader in a child follows too', async (t) => {
  const { file, path } = fresh(t)
  const child = followInChild(path, true)
  await child.ready
  file.write(Buffer.from('busy'))
  await file.finish()
  const result = await child.done
  assert.equal(result.bytes, 4)
  assert.equal(result.error, null)
  const later = AppendOnlyFile.openReader(path)
  const chunks: Uint8Array[] = []
  for await (const chunk of later.tail()) chunks.push(chunk)
  assert.equal(Buffer.concat(chunks).toString(), 'busy')
  later.close()
})

test('a reader reports a writer killed with SIGKILL after delivering what it committed', async (t) => {
  const dir = tmpDir(t)
  const path = join(dir, 'killed.aof')
  const writer = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { AppendOnlyFile } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'index.ts'))}
       const file = AppendOnlyFile.open(${JSON.stringify(path)}, { create: true })
       file.write(Buffer.from('committed'))
       process.stdout.write('written\\n')
       setInterval(() => {}, 1000)`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()))
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
  t.after(() => reader.close())
  const chunks: Buffer[] = []
  const reading = (async () => {
    for await (const chunk of reader.tail()) chunks.push(Buffer.from(chunk))
  })()
  // Killed once the follower waits for more, caught up with what the writer committed.
  await until(() => reader.wakeup !== null, 'the follower to wait')
  writer.kill('SIGKILL')
  await assert.rejects(reading, { code: ErrorCode.WriterDied })
  assert.equal(Buffer.concat(chunks).toString(), 'committed')
})

for (const change of ['replaced', 'deleted'] as const) {
  test(`a file ${change} under a reader is an error event, not a crash`, async (t) => {
    const { file, path } = fresh(t)
    file.write(Buffer.from('abc'))
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    let closedWith: unknown
    reader.subscribe({ pollRead: (event) => event.end, pollReadClosed: (reason) => (closedWith = reason) })
    if (change === 'replaced') {
      renameSync(path, `${path}.old`)
      writeFileSync(path, 'other')
    } else {
      rmSync(path)
    }
    for (let i = 0; i < 100 && closedWith === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal((closedWith as { code?: string }).code, ErrorCode.Replaced)
    rmSync(path, { force: true })
  })
}

test('openReader errors: missing file, directory, bad options, closed reader', (t) => {
  const dir = tmpDir(t)
  assert.throws(() => AppendOnlyFile.openReader(join(dir, 'missing')), { code: ErrorCode.NotFound })
  assert.throws(() => AppendOnlyFile.openReader(dir), { code: ErrorCode.IsDirectory })
  writeFileSync(join(dir, 'plain'), Buffer.alloc(0))
  const bad: unknown[] = [null, 5, { busyPoll: 'yes' }, { checkIntervalMs: 0 }, { checkIntervalMs: -5 }, { checkIntervalMs: Number.NaN }]
  bad.push({ checkIntervalMs: Number.POSITIVE_INFINITY }, { checkIntervalMs: 2 ** 31 }, { checkIntervalMs: '50' })
  for (const options of bad) {
    assert.throws(() => AppendOnlyFile.openReader(join(dir, 'plain'), options as object), { code: ErrorCode.InvalidArgument }, String(options))
  }
  AppendOnlyFile.openReader(join(dir, 'plain'), { busyPoll: false, checkIntervalMs: 2 ** 31 - 1 }).close()
  const reader = AppendOnlyFile.openReader(join(dir, 'plain'))
  assert.equal(reader.size, 0)
  reader.close()
  assert.throws(() => reader.read(0, 0), { code: ErrorCode.Closed })
})

test('read and readInto return committed bytes only, and reject ranges past them', (t) => {
  const { file, path } = fresh(t)
  file.write(Buffer.from('hello, world'))
  const reader = AppendOnlyFile.openReader(path)
  t.after(() => reader.close())
  assert.equal(Buffer.from(reader.read(7, 12)).toString(), 'world')
  const target = Buffer.alloc(64)
  assert.equal(reader.readInto(target, 7), 5)
  assert.equal(target.subarray(0, 5).toString(), 'world')
  assert.equal(reader.readInto(target, 12), 0)
  assert.throws(() => reader.read(0, 13), { code: ErrorCode.InvalidArgument })
  assert.throws(() => reader.readInto(target, 13), { code: ErrorCode.InvalidArgument })
  for (const bad of [null, [1, 2], new ArrayBuffer(4)]) {
    assert.throws(() => reader.readInto(bad as unknown as Uint8Array, 0), { code: ErrorCode.InvalidArgument })
  }
  file.write(Buffer.from('!'))
  assert.equal(reader.readInto(target.subarray(0, 2), 11), 2)
  assert.equal(target.subarray(0, 2).toString(), 'd!')
})

test('readSidecarFile reads the page a writer keeps, without touching it; null without one', async (t) => {
  const { readSidecarFile } = await import('../../src/aof/shm.ts')
  const { file, path } = fresh(t)
  file.write(Buffer.from('abc'))
  const before = readFileSync(sidecarPath(path))
  const page = readSidecarFile(path)
  assert.ok(page !== null)
  assert.equal(page.writerPid, process.pid)
  assert.equal(page.fileState, FileState.Opened)
  assert.equal(page.committedSize, 3)
  assert.equal(page.sameBoot, true)
  assert.equal(page.inode, statSync(path).ino)
  assert.deepEqual(readFileSync(sidecarPath(path)), before)
  assert.equal(readSidecarFile(`${path}.missing`), null)
})
