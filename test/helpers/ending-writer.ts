// A writer in a worker thread that ends its file on request while the thread that asked waits
// for it: the asker posts 'finish', 'close' or 'replace' (another file renamed over the path,
// then close(), as a state log's compaction does), then blocks on Atomics.wait until `done[0]`
// turns 1. workerData: { path, done: Int32Array on a SharedArrayBuffer }. Posts 'ready' once its
// first 64 KiB are committed.
import { renameSync, writeFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'

import { AppendOnlyFile } from '../../src/index.ts'

const { path, done } = workerData as { path: string; done: Int32Array }
const file = AppendOnlyFile.open(path, { create: true })
file.write(new Uint8Array(64 << 10).fill(7))
await file.flush()
parentPort!.postMessage('ready')
parentPort!.once('message', (end: 'finish' | 'close' | 'replace') => {
  void (async () => {
    if (end === 'finish') await file.finish()
    if (end === 'replace') {
      writeFileSync(`${path}.new`, 'another file')
      renameSync(`${path}.new`, path)
    }
    await file.close()
    Atomics.store(done, 0, 1)
    Atomics.notify(done, 0)
  })()
})
