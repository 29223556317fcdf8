// How a reader in another process finds, and keeps, its writer: a reader of a file whose
// writer has not set up its sidecar yet follows it as live; a reader running as another user
// (who may not write the 0644 sidecar) follows read-only instead of ending mid-stream; the
// writer's liveness is judged by the lock it holds, also across PID namespaces; a file without
// a writer is read to its end without mapping it, however large.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, FileState, Manager } from '../../src/index.ts'
import { CHECKPOINT_BYTES } from '../helpers/aof-model.ts'
import { ROOT, spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

interface FollowResult {
  bytes: number
  error: string | null
}

function setup(t: TestContext, prefix: string): { dir: string; manager: Manager } {
  const dir = tmpDir(t, prefix)
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  return { dir, manager }
}

describe('a reader whose writer has not set up its sidecar yet', () => {
  it('an empty file with no writer yet is followed as live, and its writer found when it comes', async (t) => {
    const { dir, manager } = setup(t, 'aofkit-early-')
    const path = join(dir, 'early.aof')
    writeFileSync(path, '')
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    assert.equal(reader.state, FileState.Opened)
    const chunks: Uint8Array[] = []
    const done = (async () => {
      for await (const chunk of reader.tail()) chunks.push(chunk)
    })()
    const file = manager.open(path)
    file.write(Buffer.from('hello'))
    file.write(Buffer.from(' world'))
    await file.finish()
    await done
    assert.equal(Buffer.concat(chunks).toString(), 'hello world')
    assert.equal(reader.failure, null)
  })

  it('a reader that opens a new file the moment it appears reads everything its writer writes', async (t) => {
    const dir = tmpDir(t, 'aofkit-race-reader-')
    for (let round = 0; round < 3; round++) {
      const path = join(dir, `new-${round}.aof`)
      const writer = spawnHelper('holder.ts', [path], { stdin: true })
      // Open it as soon as the name exists: before its writer has set anything up.
      while (!existsSync(path)) {
        // spin: the writer is another process
      }
      const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
      await writer.waitFor('R')
      const chunks: Uint8Array[] = []
      const done = (async () => {
        try {
          for await (const chunk of reader.tail()) chunks.push(chunk)
          return null
        } catch (error) {
          return error
        }
      })()
      // Wait for the writer's 'held', then end it: it closes the file.
      const deadline = Date.now() + 20_000
      while (Buffer.concat(chunks).length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
      writer.process.stdin!.end()
      await writer.exited
      // Closed, not finished: the follower ends with that, after everything.
      assert.equal(((await done) as { code?: unknown } | null)?.code, 'ERR_AOF_WRITER_CLOSED', `round ${round}`)
      reader.close()
      assert.equal(Buffer.concat(chunks).toString(), 'held', `round ${round}`)
    }
  })
})

describe('a reader running as another user', () => {
  it('follows a live file read-only (by its check timer) to the end, never ending mid-stream', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to run a child as another user')
      return
    }
    const { dir, manager } = setup(t, 'aofkit-other-user-')
    chmodSync(dir, 0o755)
    const path = join(dir, 'shared.aof')
    const file = manager.open(path, { create: true })
    file.write(Buffer.from('first '))
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', 'test/helpers/follow-child.ts', path], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const deadline = Date.now() + 30_000
    while (!out.startsWith('ready') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(out.startsWith('ready'), `the follower did not start: ${err}`)
    // More data while it follows, then the end.
    for (let i = 0; i < 5; i++) {
      file.write(Buffer.from(`chunk-${i} `))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await file.finish()
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const code = await exited
    clearTimeout(timer)
    assert.equal(code, 0, err)
    const result = JSON.parse(out.split('\n').find((line) => line.startsWith('{'))!) as FollowResult
    const expected = 'first ' + [0, 1, 2, 3, 4].map((i) => `chunk-${i} `).join('')
    assert.deepEqual(result, { ...result, bytes: expected.length, error: null })
    assert.match(err, /AOFKIT_READER_POLLING/, 'the reader says it waits by its timer, and why')
  })
})

describe('the writer’s liveness, judged by its lock', () => {
  /** Starts holder.ts in a new PID namespace: its pid there is not its pid here. */
  function holderInNamespace(path: string): { child: ReturnType<typeof spawn>; ready: Promise<void> } {
    const child = spawn('unshare', ['--pid', '--fork', '--kill-child=SIGKILL', process.execPath, '--import', 'tsx', 'test/helpers/holder.ts', path], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.includes('R')) resolve()
      })
      child.on('close', (code) => reject(new Error(`the holder exited (${code})`)))
    })
    return { child, ready }
  }

  it('a writer in another PID namespace is followed while it lives, and seen dead when killed', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root for unshare --pid')
      return
    }
    const dir = tmpDir(t, 'aofkit-pidns-')
    const path = join(dir, 'ns.aof')
    const { child, ready } = holderInNamespace(path)
    t.after(() => child.kill('SIGKILL'))
    try {
      await ready
    } catch (error) {
      t.skip(`unshare --pid is not available here: ${String(error)}`)
      return
    }
    const page = readFileSync(`${path}-shm`)
    const nsPid = page.readUInt32LE(8)
    t.diagnostic(`the writer's pid in its namespace is ${nsPid}; here it is another process or none`)
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    const chunks: Uint8Array[] = []
    let failure: unknown = null
    const done = (async () => {
      try {
        for await (const chunk of reader.tail()) chunks.push(chunk)
      } catch (error) {
        failure = error
      }
    })()
    // Alive: several checks pass without a false ERR_AOF_WRITER_DIED.
    const until = Date.now() + 300
    while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(failure, null)
    assert.equal(Buffer.concat(chunks).toString(), 'held')
    // Killed: SIGKILL to unshare, which passes it on to the writer (--kill-child).
    child.kill('SIGKILL')
    // Up to a deadline: a reader that judged the writer by its pid would wait forever.
    let timer: NodeJS.Timeout | undefined
    const ended = await Promise.race([
      done.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 20_000))),
    ])
    clearTimeout(timer)
    reader.close()
    assert.ok(ended, 'the reader did not see its writer die')
    assert.equal((failure as { code?: unknown } | null)?.code, 'ERR_AOF_WRITER_DIED')
  })
})

describe('a file without a writer', () => {
  it('over 4 GiB is read to its end without mapping it', (t) => {
    const dir = tmpDir(t, 'aofkit-huge-')
    const path = join(dir, 'huge.aof')
    // A finished file of 5 GiB: sparse zeros, then data and its MagicCheckpoint.
    const size = 5 * 2 ** 30
    const data = Buffer.from('the end of a very large file')
    const fd = openSync(path, 'w')
    writeSync(fd, Buffer.from('start'), 0, 5, 0)
    writeSync(fd, data, 0, data.length, size - 8 - data.length)
    writeSync(fd, CHECKPOINT_BYTES, 0, 8, size - 8)
    closeSync(fd)
    t.after(() => rmSync(path, { force: true }))
    const reader = AppendOnlyFile.openReader(path)
    try {
      assert.equal(reader.state, FileState.EOF)
      assert.equal(reader.size, size - 8)
      assert.deepEqual(Buffer.from(reader.read(size - 8 - data.length, size - 8)), data)
      assert.deepEqual(Buffer.from(reader.read(0, 5)), Buffer.from('start'))
    } finally {
      reader.close()
    }
  })
})
