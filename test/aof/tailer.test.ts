import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { ErrorCode, Manager, TailerState } from '../../src/index.ts'
import type { ReadEvent } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function fresh(t: TestContext) {
  const manager = new Manager({ dir: tmpDir(t), flushIntervalMs: 0 })
  t.after(() => manager.close())
  return manager.open('data.aof', { create: true, geometry: { sizeUpper: 64 * 1024 * 1024 } })
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Waits until `condition` holds, polling up to a deadline. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(condition(), 'condition not met within 5 s')
}

/** A consumer that records everything; `take` bounds how much it consumes per poll. */
function recorder(take = Infinity) {
  const chunks: Buffer[] = []
  const events: ReadEvent[] = []
  let closed: unknown = undefined
  return {
    chunks,
    events,
    closed: () => closed,
    data: () => Buffer.concat(chunks),
    consumer: {
      pollRead(event: ReadEvent): number {
        events.push(event)
        const end = Math.min(event.end, event.begin + take)
        chunks.push(Buffer.from(event.tail.subarray(0, end - event.begin)))
        return end
      },
      pollReadClosed(reason: unknown): void {
        closed = reason
      },
    },
  }
}

test('a tailer gets every byte in order, one poll per tick however many writes', async (t) => {
  const file = fresh(t)
  file.write(Buffer.from('before;'))
  const seen = recorder()
  const tailer = file.subscribe(seen.consumer)
  assert.equal(tailer.state, TailerState.Start)
  await tick()
  assert.equal(seen.data().toString(), 'before;')
  assert.equal(tailer.state, TailerState.Tail)
  const polls = seen.events.length
  for (let i = 0; i < 100; i++) file.write(Buffer.from(`${i};`))
  await tick()
  assert.equal(seen.events.length, polls + 1, '100 writes in one tick give one poll')
  const last = seen.events.at(-1)!
  assert.equal(last.reason, 'write')
  assert.equal(last.end, file.size)
  assert.equal(last.contents().length, file.size)
  // An event's contents end at its own `end`, however much was written since.
  const end = last.end
  file.write(Buffer.from('later;'))
  assert.equal(Buffer.from(last.contents()).toString(), Buffer.from(file.contents()).subarray(0, end).toString())
  // contents() is a method of the event (no closure per poll): detached, it says so.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- detaching it is what is tested
  const { contents } = last
  assert.throws(() => contents(), { code: ErrorCode.InvalidArgument, message: /event\.contents\(\)/ })
  assert.equal(seen.data().toString(), `before;${Array.from({ length: 100 }, (_, i) => `${i};`).join('')}`)
})

test('a consumer that takes less is polled again on the next tick (back-pressure)', async (t) => {
  const file = fresh(t)
  const seen = recorder(3)
  file.subscribe(seen.consumer)
  file.write(Buffer.from('abcdefghij'))
  for (let i = 0; i < 10; i++) await tick()
  assert.equal(seen.data().toString(), 'abcdefghij')
  assert.ok(seen.events.length >= 4)
  assert.ok(seen.events.some((event) => event.reason === 'backpressure'))
})

test('a consumer that throws is closed with that error; others go on', async (t) => {
  const file = fresh(t)
  const failure = new Error('consumer failed')
  let closedWith: unknown
  const tailer = file.subscribe({
    pollRead: () => {
      throw failure
    },
    pollReadClosed: (reason) => {
      closedWith = reason
    },
  })
  const healthy = recorder()
  file.subscribe(healthy.consumer)
  file.write(Buffer.from('x'))
  await tick()
  assert.equal(closedWith, failure)
  assert.equal(tailer.state, TailerState.Closed)
  file.write(Buffer.from('y'))
  await tick()
  assert.equal(healthy.data().toString(), 'xy')
})

test('finish delivers a last event with eof: true; close closes tailers with a reason', async (t) => {
  const file = fresh(t)
  const seen = recorder()
  const tailer = file.subscribe(seen.consumer)
  file.write(Buffer.from('data'))
  await file.finish()
  await tick()
  const last = seen.events.at(-1)!
  assert.equal(last.eof, true)
  assert.equal(seen.data().toString(), 'data')
  assert.equal(tailer.state, TailerState.EOF)
  await file.close()
  assert.equal(tailer.state, TailerState.Closed)
  assert.equal(seen.closed(), 'file closed')
})

test('from and intervalMs: start mid-file, poll on a timer instead of on writes', async (t) => {
  const file = fresh(t)
  file.write(Buffer.from('0123456789'))
  const seen = recorder()
  const tailer = file.subscribe(seen.consumer, { from: 4, intervalMs: 5 })
  file.write(Buffer.from('ab'))
  for (let i = 0; i < 50 && seen.data().length < 8; i++) await new Promise((r) => setTimeout(r, 5))
  assert.equal(seen.data().toString(), '456789ab')
  assert.ok(seen.events.every((event) => event.reason === 'interval' || event.reason === 'start'))
  tailer.close()
  assert.equal(seen.closed(), 'closed')
})

test('wake() polls every tailer even without new data', async (t) => {
  const file = fresh(t)
  const atTail = recorder()
  const interval = recorder()
  file.subscribe(atTail.consumer)
  file.write(Buffer.from('z'))
  await until(() => atTail.events.length === 1)
  file.subscribe(interval.consumer, { intervalMs: 2 ** 31 - 1 })
  await until(() => interval.events.length === 1)
  const before = atTail.events.length
  file.wake()
  // Nothing new: a tailer at the tail is polled with an empty range, the reason 'wake'.
  await until(() => atTail.events.length > before && interval.events.length > 1)
  for (const seen of [atTail, interval]) {
    const event = seen.events.at(-1)!
    assert.equal(event.reason, 'wake')
    assert.equal(event.begin, 1)
    assert.equal(event.end, 1)
    assert.equal(event.tail.length, 0)
    assert.equal(event.eof, false)
  }
})

test('subscribe validates the consumer and options', (t) => {
  const file = fresh(t)
  assert.throws(() => file.subscribe({} as never), { code: 'ERR_AOF_INVALID_ARGUMENT' })
  const consumer = recorder().consumer
  assert.throws(() => file.subscribe(consumer, { from: -1 }), { code: 'ERR_AOF_INVALID_ARGUMENT' })
  assert.throws(() => file.subscribe(consumer, { intervalMs: 0 }), { code: 'ERR_AOF_INVALID_ARGUMENT' })
})

test('for await over tail() follows writes and ends at finish', async (t) => {
  const file = fresh(t)
  const reading = (async () => {
    const chunks: Buffer[] = []
    for await (const chunk of file.tail()) chunks.push(Buffer.from(chunk))
    return Buffer.concat(chunks).toString()
  })()
  for (let i = 0; i < 20; i++) {
    file.write(Buffer.from(`${i},`))
    if (i % 3 === 0) await tick()
  }
  await file.finish()
  assert.equal(await reading, Array.from({ length: 20 }, (_, i) => `${i},`).join(''))
})

test('tail() stops with an AbortError when its signal aborts', async (t) => {
  const file = fresh(t)
  file.write(Buffer.from('abc'))
  const controller = new AbortController()
  const chunks: string[] = []
  const reading = (async () => {
    for await (const chunk of file.tail({ from: 1, signal: controller.signal })) chunks.push(Buffer.from(chunk).toString())
  })()
  await tick()
  controller.abort()
  await assert.rejects(reading, { name: 'AbortError' })
  assert.deepEqual(chunks, ['bc'])
})

test('stream() is a byte stream of the data that ends at finish', async (t) => {
  const file = fresh(t)
  const stream = file.stream()
  const collected = (async () => {
    const chunks: Buffer[] = []
    for await (const chunk of stream) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString()
  })()
  file.write(Buffer.from('hello '))
  await tick()
  file.write(Buffer.from('stream'))
  await file.finish()
  assert.equal(await collected, 'hello stream')
})
