import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

import * as native from '../../src/native/binding.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { until } from '../helpers/until.ts'

const linux = process.platform === 'linux'
const bindingUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'native', 'binding.ts')).href

/** Runs `code` (an ES module that may import the binding as `native`) in a fresh Node process. */
function runScript(code: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const source = `import * as native from ${JSON.stringify(bindingUrl)}\n${code}`
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, ...env },
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function inotifyDescriptors(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:inotify'
    } catch {
      return false
    }
  }).length
}

const nextCall = (calls: { count: number; waiter: (() => void) | null }): Promise<void> =>
  new Promise((resolve) => {
    calls.waiter = resolve
  })

test('watchFile calls back from the event loop after writes, reads, renames, and stops at close', { skip: !linux && 'inotify is Linux only' }, async (t) => {
  const dir = tmpDir(t)
  const path = join(dir, 'watched')
  writeFileSync(path, 'a')
  const calls = { count: 0, waiter: null as (() => void) | null }
  const watch = native.watchFile(path, () => {
    calls.count++
    calls.waiter?.()
  })!
  // One inotify instance per thread, however many watches: fs.watch's frugality.
  const instances = inotifyDescriptors()
  const second = native.watchFile(path, () => undefined)!
  const third = native.watchFile(dir, () => undefined)!
  assert.equal(inotifyDescriptors(), instances)
  second.close()
  third.close()
  let woken = nextCall(calls)
  // Several writes before the loop turns: one readable event, the queue drained by one call.
  writeFileSync(path, 'b')
  writeFileSync(path, 'c')
  writeFileSync(path, 'd')
  await woken
  await new Promise((resolve) => setImmediate(resolve))
  const afterWrites = calls.count
  assert.ok(afterWrites >= 1 && afterWrites <= 3, `called ${afterWrites} times for three writes in one tick`)
  // A read is an event too: the writer of an append-only file wakes its readers by one.
  woken = nextCall(calls)
  const fd = openSync(path, 'r')
  native.pread(fd, new Uint8Array(1), 0, 1, 0)
  closeSync(fd)
  await woken
  woken = nextCall(calls)
  renameSync(path, join(dir, 'renamed'))
  await woken
  watch.close()
  watch.close() // idempotent
  const closedAt = calls.count
  // A second watch on the same inotify instance is the barrier: its event comes after the
  // write to the closed watch's file, so once it is called, a call of the closed one would
  // have come already.
  const sentinelPath = join(dir, 'sentinel')
  writeFileSync(sentinelPath, '')
  let sentinelCalled: () => void = () => undefined
  const sentinelWoken = new Promise<void>((resolve) => (sentinelCalled = resolve))
  const sentinel = native.watchFile(sentinelPath, () => sentinelCalled())!
  t.after(() => sentinel.close())
  writeFileSync(join(dir, 'renamed'), 'e')
  writeFileSync(sentinelPath, 'x')
  await sentinelWoken
  assert.equal(calls.count, closedAt)
})

test('after the queue overflows, every watch is called back: a lost event may have been its own', { skip: !linux && 'inotify is Linux only', timeout: 10_000 }, async (t) => {
  const dir = tmpDir(t)
  const [a, b, c] = ['a', 'b', 'c'].map((name) => join(dir, name))
  const called = new Set<string>()
  let resolveA: () => void = () => undefined
  const calledA = new Promise<void>((resolve) => (resolveA = resolve))
  const watches = [a, b, c].map((path) => {
    writeFileSync(path!, '')
    return native.watchFile(path!, () => {
      called.add(path!)
      if (path === a) resolveA()
    })!
  })
  t.after(() => {
    for (const watch of watches) watch.close()
  })
  // Alternate b and c (alternating events are not merged) until the queue is full, while the
  // event loop cannot drain it; then a's one event is dropped.
  const limit = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'))
  const fd = [openSync(b!, 'w'), openSync(c!, 'w')]
  for (let index = 0; index <= limit; index++) writeSync(fd[index % 2]!, 'x')
  for (const descriptor of fd) closeSync(descriptor)
  writeFileSync(a!, 'lost in the overflow')
  await calledA
  assert.deepEqual([...called].sort(), [a, b, c].sort())
})

test('watchFile throws a system error for a missing path', { skip: !linux && 'inotify is Linux only' }, (t) => {
  assert.throws(() => native.watchFile(join(tmpDir(t), 'missing'), () => undefined), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'ENOENT')
    assert.equal(error.syscall, 'inotify_add_watch')
    return true
  })
})

test('a watch keeps its process alive until unref() or close(); a throw is an uncaught exception', { skip: !linux && 'inotify is Linux only' }, (t) => {
  const path = join(tmpDir(t), 'watched')
  writeFileSync(path, '')
  // Unreferenced, nothing else pending: the process exits at once.
  const unreferenced = runScript(`native.watchFile(process.env.WATCHED, () => undefined).unref(); console.log('done')`, { WATCHED: path })
  assert.equal(unreferenced.status, 0, unreferenced.stderr)
  assert.equal(unreferenced.stdout, 'done\n')
  // Referenced: only the watch keeps the process up until the (unreferenced) timer writes.
  const referenced = runScript(
    `import { writeFileSync } from 'node:fs'
     const watch = native.watchFile(process.env.WATCHED, () => { console.log('woken'); watch.close() })
     watch.unref().ref()
     setTimeout(() => writeFileSync(process.env.WATCHED, 'x'), 50).unref()`,
    { WATCHED: path },
  )
  assert.equal(referenced.status, 0, referenced.stderr)
  assert.equal(referenced.stdout, 'woken\n')
  const throwing = runScript(
    `import { writeFileSync } from 'node:fs'
     process.on('uncaughtException', (error) => { console.log('caught', error.message); process.exit(0) })
     native.watchFile(process.env.WATCHED, () => { throw new Error('from the callback') })
     writeFileSync(process.env.WATCHED, 'y')`,
    { WATCHED: path },
  )
  assert.equal(throwing.status, 0, throwing.stderr)
  assert.equal(throwing.stdout, 'caught from the callback\n')
})

test('a watch left open in a worker thread is closed with the worker', { skip: !linux && 'inotify is Linux only' }, async (t) => {
  const path = join(tmpDir(t), 'watched')
  writeFileSync(path, '')
  const before = inotifyDescriptors()
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads')
     import(workerData.tsxUrl).then(({ register }) => {
       register()
       return import(workerData.bindingUrl)
     }).then((native) => {
       native.watchFile(workerData.path, () => parentPort.postMessage('woken'))
       parentPort.postMessage('watching')
     })`,
    { eval: true, workerData: { path, bindingUrl, tsxUrl: import.meta.resolve('tsx/esm/api') } },
  )
  const messages: string[] = []
  const watching = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: string) => {
      messages.push(message)
      if (message === 'watching') resolve()
    })
    worker.on('error', reject)
  })
  await watching
  assert.equal(inotifyDescriptors(), before + 1)
  const woken = new Promise<void>((resolve) => worker.once('message', () => resolve()))
  writeFileSync(path, 'a')
  await woken
  await worker.terminate()
  // The worker's environment cleanup closes its watch: its inotify descriptor goes.
  await until(() => inotifyDescriptors() === before, "the worker's inotify descriptor to close")
  // A change after that reaches no callback of the gone worker: a watch of this thread on the
  // same file is called back for it, and this process is still here to see it.
  const received = messages.length
  let woke: () => void = () => undefined
  const sentinelWoken = new Promise<void>((resolve) => (woke = resolve))
  const sentinel = native.watchFile(path, () => woke())!
  t.after(() => sentinel.close())
  writeFileSync(path, 'b')
  await sentinelWoken
  assert.equal(messages.length, received)
})
