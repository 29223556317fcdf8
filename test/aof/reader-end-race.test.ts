// A reader's followers read the writer's state, then the failure, then the size. The failure
// must come after the state: read before it, a cut sidecar, a replaced file or an unfinished
// close that happened between the two reads showed only in the state, and the follower ended
// as if the file were complete. Each case makes the change at that very moment, from inside the
// first read of the failure, with a real writer in a worker thread, for the iterator of tail()
// and for a tailer; a finish at the same moment still ends cleanly.
import assert from 'node:assert/strict'
import { truncateSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { Worker } from 'node:worker_threads'

import { AppendOnlyFile, ErrorCode } from '../../src/index.ts'
import type { FileReader } from '../../src/index.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const WRITTEN = 64 << 10
type Change = 'cut sidecar' | 'close' | 'replace' | 'finish'
const EXPECTED: Record<Change, string | null> = {
  'cut sidecar': ErrorCode.Replaced,
  close: ErrorCode.WriterClosed,
  replace: ErrorCode.Replaced,
  finish: null,
}

/**
 * A reader of a file written by a worker thread, caught up with it, whose first read of
 * `failure` makes `change` before it returns what it read.
 */
async function readerChangedOnFailureRead(t: TestContext, change: Change): Promise<FileReader> {
  const path = join(tmpDir(t), 'f')
  const done = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(new URL('../helpers/worker-entry.mjs', import.meta.url), {
    workerData: { script: new URL('../helpers/ending-writer.ts', import.meta.url).href, path, done },
  })
  t.after(() => worker.terminate())
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
  t.after(() => reader.close())
  assert.equal(reader.size, WRITTEN)
  const prototype = Object.getPrototypeOf(reader) as object
  let changed = false
  Object.defineProperty(reader, 'failure', {
    get(): Error | null {
      const read = Reflect.get(prototype, 'failure', reader) as Error | null
      if (!changed) {
        changed = true
        if (change === 'cut sidecar') truncateSync(`${path}-shm`, 0)
        else {
          worker.postMessage(change)
          // 'not-equal' when the writer was done before this thread began to wait.
          Atomics.wait(done, 0, 0, 20_000)
          assert.equal(Atomics.load(done, 0), 1, `the writer's ${change}`)
        }
      }
      return read
    },
  })
  return reader
}

const codeOf = (reason: unknown): unknown => (reason instanceof Error ? (reason as { code?: unknown }).code : reason)

describe('a change between a follower’s reads of the state and the failure', () => {
  for (const change of Object.keys(EXPECTED) as Change[]) {
    it(`tail(): ${change}`, async (t) => {
      const reader = await readerChangedOnFailureRead(t, change)
      let bytes = 0
      let error: unknown = null
      try {
        for await (const chunk of reader.tail({ from: WRITTEN })) bytes += chunk.length
      } catch (caught) {
        error = caught
      }
      assert.equal(bytes, 0)
      assert.equal(codeOf(error), EXPECTED[change])
    })

    it(`a tailer: ${change}`, async (t) => {
      const reader = await readerChangedOnFailureRead(t, change)
      let eof = false
      const reason = await new Promise<unknown>((resolve) => {
        reader.subscribe(
          {
            pollRead(event) {
              eof ||= event.eof
              // A finished file's tailer stays open after its eof event, until its reader closes.
              if (event.eof) queueMicrotask(() => reader.close())
              return event.end
            },
            pollReadClosed: resolve,
          },
          { from: WRITTEN },
        )
      })
      if (change === 'finish') {
        assert.ok(eof)
        assert.equal(reason, 'reader closed')
      } else {
        assert.equal(codeOf(reason), EXPECTED[change])
      }
    })
  }
})
