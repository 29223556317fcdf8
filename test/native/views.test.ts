// Every view JavaScript is given on a mapping can be cloned and posted to a worker: a view is a
// window on the whole reservation, most of it past the file's end, and a clone copies all of
// it. Past the end it reads zeros; it used to raise SIGBUS and end the process.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import { AppendOnlyFile, AppendOnlyFileSink, AppendOnlyFileSource, LogReader, LogWriter } from '../../src/index.ts'
import type { ReadEvent } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

// A small file in a large reservation: pages past the allocation are what a clone reads.
const geometry = { sizeNow: 4096, growthStep: 4096, sizeUpper: 64 << 20 }

/** Posts `view` to a worker, which answers with the length and the sum of the bytes it got. */
async function postToWorker(view: Uint8Array): Promise<{ length: number; sum: number }> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads')
     parentPort.once('message', (view) => {
       let sum = 0
       for (const byte of view) sum += byte
       parentPort.postMessage({ length: view.length, sum })
     })`,
    { eval: true },
  )
  try {
    const answer = new Promise<{ length: number; sum: number }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    worker.postMessage(view)
    return await answer
  } finally {
    await worker.terminate()
  }
}

function sum(view: Uint8Array): number {
  let total = 0
  for (const byte of view) total += byte
  return total
}

/** Clones and posts `view`, and checks both arrive whole. */
async function checkView(name: string, view: Uint8Array): Promise<void> {
  const expected = { length: view.length, sum: sum(view) }
  const copy = structuredClone(view)
  assert.deepEqual({ length: copy.length, sum: sum(copy) }, expected, `${name}: structuredClone`)
  assert.deepEqual(await postToWorker(view), expected, `${name}: postMessage`)
}

test('contents(), tail() chunks and poll events can be cloned and posted, open and finished', async (t) => {
  const path = join(tmpDir(t), 'f')
  const file = AppendOnlyFile.open(path, { create: true, geometry })
  t.after(() => file.close())
  file.write(new Uint8Array(1000).fill(3))
  await checkView('contents()', file.contents())

  const chunks = file.tail()
  const first = await chunks.next()
  assert.equal(first.done, false)
  await checkView('a tail() chunk', first.value)
  await chunks.return(undefined)

  const events: Array<{ tail: Uint8Array; contents: Uint8Array }> = []
  const tailer = file.subscribe({
    pollRead: (event: ReadEvent) => {
      events.push({ tail: event.tail, contents: event.contents() })
      return event.end
    },
    pollReadClosed: () => undefined,
  })
  file.write(new Uint8Array(10).fill(4))
  const deadline = Date.now() + 10_000
  while (events.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  tailer.close()
  assert.ok(events.length > 0)
  await checkView("a poll event's tail", events[0]!.tail)
  await checkView("a poll event's contents()", events[0]!.contents)

  // finish() cuts the file to its data: the rest of the mapping is past the file's end again.
  await file.finish()
  await checkView('contents() of a finished file', file.contents())
  const reopened = AppendOnlyFile.open(path)
  t.after(() => reopened.close())
  await checkView('contents() of a finished file opened again', reopened.contents())
})

test('zero-copy log entries can be cloned and posted', async (t) => {
  const path = join(tmpDir(t), 'log')
  const file = AppendOnlyFile.open(path, { create: true, geometry })
  t.after(() => file.close())
  const writer = new LogWriter(new AppendOnlyFileSink(file))
  for (let k = 0; k < 5; k++) writer.append(new Uint8Array(100 + k).fill(k + 1))
  const reader = new LogReader(new AppendOnlyFileSource(file))
  const entries = [...reader]
  assert.equal(entries.length, 5)
  for (const [k, entry] of entries.entries()) await checkView(`log entry ${k}`, entry)
})
