import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, sidecarPath } from '../../src/index.ts'
import type { FileReader } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Readers of `path` currently counted as waiting in its sidecar (the writer pokes them). */
function waiters(path: string): number {
  return readFileSync(sidecarPath(path)).readUInt32LE(60)
}

/** A new file and a reader of it, both closed after the test. */
function fileAndReader(t: TestContext): { file: AppendOnlyFile; reader: FileReader } {
  const path = join(tmpDir(t), 'f.aof')
  const file = AppendOnlyFile.open(path, { create: true })
  const reader = AppendOnlyFile.openReader(path)
  t.after(async () => {
    reader.close()
    await file.close()
  })
  return { file, reader }
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (chunk: Uint8Array | undefined): string => new TextDecoder().decode(chunk)

test('tail(): next() calls made together resolve in order, one chunk each, then the end', async (t) => {
  const file = AppendOnlyFile.open(join(tmpDir(t), 'f.aof'), { create: true })
  const iterator = file.tail()
  const first = iterator.next()
  const second = iterator.next()
  file.write(bytes('one'))
  assert.equal(text((await first).value as Uint8Array), 'one')
  file.write(bytes('two'))
  assert.equal(text((await second).value as Uint8Array), 'two')
  const end = iterator.next()
  await file.finish()
  assert.deepEqual(await end, { value: undefined, done: true })
  assert.deepEqual(await iterator.next(), { value: undefined, done: true })
  await file.close()
})

test("a reader's tail(): return() while waiting ends the pending next() and the reader stops waiting", async (t) => {
  const path = join(tmpDir(t), 'f.aof')
  const file = AppendOnlyFile.open(path, { create: true })
  file.write(bytes('abc'))
  const reader = AppendOnlyFile.openReader(path)
  const iterator = reader.tail()
  assert.equal(text((await iterator.next()).value as Uint8Array), 'abc')
  const pending = iterator.next()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(waiters(path), 1)
  assert.deepEqual(await iterator.return(undefined), { value: undefined, done: true })
  assert.deepEqual(await pending, { value: undefined, done: true })
  assert.equal(waiters(path), 0)
  // Nothing wakes the ended iterator, and nothing more is read through it.
  file.write(bytes('d'))
  assert.deepEqual(await iterator.next(), { value: undefined, done: true })
  reader.close()
  await file.close()
})

test('waits with one abort signal leave no listener behind, whether they wait or find a change at once', async (t) => {
  const path = join(tmpDir(t), 'f.aof')
  const file = AppendOnlyFile.open(path, { create: true })
  const reader = AppendOnlyFile.openReader(path)
  const controller = new AbortController()
  const { signal } = controller
  for (let index = 0; index < 20; index++) {
    const change = file.nextChange(signal)
    file.write(bytes('x'))
    await change
    // The reader has seen nothing yet, or not this write: its wait resumes at once.
    await reader.nextChange(signal)
  }
  assert.equal(getEventListeners(signal, 'abort').length, 0)
  let read = ''
  const iterator = reader.tail({ signal })
  const next = iterator.next()
  assert.equal(getEventListeners(signal, 'abort').length, 1)
  read += text((await next).value as Uint8Array)
  assert.equal(read, 'x'.repeat(20))
  const waiting = iterator.next()
  controller.abort()
  await assert.rejects(waiting, { name: 'AbortError' })
  assert.equal(getEventListeners(signal, 'abort').length, 0)
  assert.equal(waiters(path), 0)
  reader.close()
  await file.close()
})

test('tail({ from }) with a bad offset rejects its first next(), as before', async (t) => {
  const file = AppendOnlyFile.open(join(tmpDir(t), 'f.aof'), { create: true })
  const iterator = file.tail({ from: -1 })
  await assert.rejects(iterator.next(), { code: 'ERR_AOF_INVALID_ARGUMENT' })
  assert.deepEqual(await iterator.next(), { value: undefined, done: true })
  await file.close()
})

test('options that are not an object are an invalid argument: tail() at its first next(), subscribe() at once', async (t) => {
  const { file, reader } = fileAndReader(t)
  const consumer = { pollRead: () => 0, pollReadClosed: () => undefined }
  for (const options of [null, 5, 'from'] as unknown as object[]) {
    for (const follower of [file, reader]) {
      const iterator = follower.tail(options)
      await assert.rejects(iterator.next(), { code: 'ERR_AOF_INVALID_ARGUMENT' })
      assert.deepEqual(await iterator.next(), { value: undefined, done: true })
      assert.throws(() => follower.subscribe(consumer, options), { code: 'ERR_AOF_INVALID_ARGUMENT' })
    }
  }
})

test('a signal that is not an AbortSignal is an invalid argument: tail(), stream() and nextChange(), file and reader', async (t) => {
  const { file, reader } = fileAndReader(t)
  const invalid = { code: 'ERR_AOF_INVALID_ARGUMENT' }
  for (const signal of [5, {}, new AbortController()] as unknown as AbortSignal[]) {
    for (const follower of [file, reader]) {
      const iterator = follower.tail({ signal })
      await assert.rejects(iterator.next(), invalid)
      assert.deepEqual(await iterator.next(), { value: undefined, done: true })
      await assert.rejects(follower.nextChange(signal), invalid)
      const stream = follower.stream({ signal })
      await assert.rejects(new Promise((resolve, reject) => stream.on('error', reject).on('end', resolve).resume()), invalid)
    }
  }
})

test('a reader stays counted as a waiter across a wake-up, and stops at its next check or when its iterator ends', async (t) => {
  const path = join(tmpDir(t), 'f.aof')
  const file = AppendOnlyFile.open(path, { create: true })
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 30 })
  file.write(bytes('a'))
  await reader.nextChange()
  const woken = reader.nextChange()
  file.write(bytes('b'))
  await woken
  // Resumed, and not waiting: still counted, so that waiting again costs nothing.
  assert.equal(waiters(path), 1)
  // Uncounted at its next liveness check (every 30 ms) with nobody waiting on it.
  const deadline = Date.now() + 10_000
  while (waiters(path) !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(waiters(path), 0)

  for await (const chunk of reader.tail()) {
    assert.equal(text(chunk), 'ab')
    break
  }
  assert.equal(waiters(path), 0)
  const iterator = reader.tail({ from: 2 })
  const next = iterator.next()
  file.write(bytes('c'))
  assert.equal(text((await next).value as Uint8Array), 'c')
  assert.equal(waiters(path), 1)
  await iterator.return(undefined)
  assert.equal(waiters(path), 0)
  reader.close()
  await file.close()
})

test('from past the end: subscribe() and tail() wait for a file still written to reach it, and refuse it in a finished file', async (t) => {
  const { file, reader } = fileAndReader(t)
  file.write(bytes('abc'))
  const followers = [file, reader].map((source) => {
    const seen: string[] = []
    let closed: unknown = undefined
    const tailer = source.subscribe({ pollRead: (event) => (seen.push(text(event.tail)), event.end), pollReadClosed: (reason) => (closed = reason) }, { from: 5 })
    return { tailer, seen, closed: () => closed, next: source.tail({ from: 5 }).next() }
  })
  await new Promise((resolve) => setImmediate(resolve))
  file.write(bytes('defgh'))
  for (const follower of followers) {
    assert.equal(text((await follower.next).value as Uint8Array), 'fgh')
    for (let i = 0; i < 500 && follower.seen.join('') !== 'fgh'; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(follower.seen.join(''), 'fgh')
    assert.equal(follower.closed(), undefined)
    follower.tailer.close()
  }
  await file.finish()
  const late = AppendOnlyFile.openReader(file.path)
  t.after(() => late.close())
  for (const source of [file, reader, late]) {
    let closed: unknown = undefined
    source.subscribe({ pollRead: (event) => event.end, pollReadClosed: (reason) => (closed = reason) }, { from: 20 })
    for (let i = 0; i < 500 && closed === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal((closed as { code?: string }).code, 'ERR_AOF_INVALID_ARGUMENT')
    await assert.rejects(source.tail({ from: 20 }).next(), { code: 'ERR_AOF_INVALID_ARGUMENT' })
    // At the very end is no error: nothing more to read.
    assert.equal((await source.tail({ from: 8 }).next()).done, true)
  }
})
