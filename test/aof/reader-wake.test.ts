// A reader in another process is woken by the writer's poke alone (its check timer is set to
// an hour): by a one-byte read of the sidecar when it waits on aofkit's own inotify watch, by a
// write when it had to fall back to fs.watch, which does not report reads. With neither watch,
// its check timer finds the data.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, sidecarPath } from '../../src/index.ts'
import { ShmIndex } from '../../src/aof/shm.ts'
import * as native from '../../src/native/binding.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const pokeChild = join(import.meta.dirname, '..', 'helpers', 'poke-child.ts')
const linux = process.platform === 'linux'

/** The sidecar's words, mapped: reading them raises no inotify event, as a read() would. */
function sidecarWords(t: TestContext, path: string): Int32Array {
  const fd = openSync(sidecarPath(path), 'r')
  const mapping = native.map(fd, 4096, false)
  t.after(() => {
    native.unmap(mapping)
    closeSync(fd)
  })
  return new Int32Array(mapping)
}

/** The child's stdout, line by line; each `line()` waits for the next (failing after 10 s). */
function lines(child: ReturnType<typeof spawn>): () => Promise<string> {
  const queued: string[] = []
  const waiting: ((line: string) => void)[] = []
  let buffered = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    let newline
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      const waiter = waiting.shift()
      if (waiter !== undefined) waiter(line)
      else queued.push(line)
    }
  })
  return () => {
    const line = queued.shift()
    if (line !== undefined) return Promise.resolve(line)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no wake-up in 10 s: the poke did not reach the reader')), 10_000)
      waiting.push((next) => {
        clearTimeout(timer)
        resolve(next)
      })
    })
  }
}

const expectedWakeup = { direct: 'inotify', 'fs-watch': 'fs.watch', timer: 'timer' } as const

const names = {
  direct: "a reader on aofkit's inotify watch is woken by the writer's read poke alone",
  'fs-watch': 'a reader that fell back to fs.watch asks for a write poke, and is woken by it alone',
  timer: 'a reader that can watch nothing finds new data by its check timer',
} as const

for (const mode of ['direct', 'fs-watch', 'timer'] as const) {
  const name = names[mode]
  test(name, { skip: !linux && 'inotify is Linux only', timeout: 60_000 }, async (t) => {
    const path = join(tmpDir(t), 'data.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    t.after(() => file.close())
    const words = sidecarWords(t, path)
    // fs-watch and timer: a low descriptor limit, so that the child can use them all up quickly.
    const command = mode === 'direct' ? process.execPath : '/bin/sh'
    const args = ['--import', 'tsx', pokeChild, path, mode]
    const child = spawn(command, mode === 'direct' ? args : ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const line = lines(child)
    assert.equal(await line(), `ready ${expectedWakeup[mode]}`, stderr)
    assert.equal(Atomics.load(words, ShmIndex.waiters), 1)
    assert.equal(Atomics.load(words, ShmIndex.writeWatchers), mode === 'fs-watch' ? 1 : 0)
    // One write at a time, each only after the last was seen: every one needs its own poke.
    for (let length = 1; length <= 20; length++) {
      file.write(new Uint8Array(length).fill(length))
      assert.equal(await line(), String(length))
    }
    await file.finish()
    assert.equal(await line(), 'end')
    assert.equal(await exited, 0, stderr)
    // Only a reader left with its timer is worth a warning: the others wake as fast.
    assert.equal(stderr.includes('AOFKIT_READER_POLLING'), mode === 'timer', stderr)
    assert.equal(Atomics.load(words, ShmIndex.waiters), 0)
    assert.equal(Atomics.load(words, ShmIndex.writeWatchers), 0)
  })
}

test('wakeup says how a reader waits: null before it first waits, and for a file without a live writer', async (t) => {
  const path = join(tmpDir(t), 'data.aof')
  const file = AppendOnlyFile.open(path, { create: true })
  t.after(() => file.close())
  const reader = AppendOnlyFile.openReader(path)
  const busy = AppendOnlyFile.openReader(path, { busyPoll: true })
  t.after(() => {
    reader.close()
    busy.close()
  })
  assert.equal(reader.wakeup, null)
  const next = reader.tail()[Symbol.asyncIterator]().next()
  assert.equal(reader.wakeup, linux ? 'inotify' : 'fs.watch')
  const busyNext = busy.tail()[Symbol.asyncIterator]().next()
  assert.equal(busy.wakeup, 'busy-poll')
  file.write(Buffer.from('x'))
  assert.equal(Buffer.from((await next).value!).toString(), 'x')
  assert.equal(Buffer.from((await busyNext).value!).toString(), 'x')
  await file.finish()
  const finished = AppendOnlyFile.openReader(path)
  const chunks: Uint8Array[] = []
  for await (const chunk of finished.tail()) chunks.push(chunk)
  assert.equal(Buffer.concat(chunks).toString(), 'x')
  assert.equal(finished.wakeup, null)
  finished.close()
})
