// Follows an append-only file with AppendOnlyFile.openReader until it ends, then reports the
// byte count and sha256 of everything it read (or the error code that ended it). Runs as a
// child process (argv: path [busy]) or as a worker thread (workerData: { path, busy }).
import { createHash } from 'node:crypto'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'

import { AppendOnlyFile } from '../../src/index.ts'

const { path, busy } = isMainThread
  ? { path: process.argv[2]!, busy: process.argv[3] === 'busy' }
  : (workerData as { path: string; busy: boolean })

const reader = AppendOnlyFile.openReader(path, { busyPoll: busy, checkIntervalMs: 50 })
const hash = createHash('sha256')
let bytes = 0
let error: string | null = null
try {
  if (isMainThread) process.stdout.write('ready\n')
  else parentPort!.postMessage({ ready: true })
  for await (const chunk of reader.tail()) {
    hash.update(chunk)
    bytes += chunk.length
  }
} catch (caught) {
  error = (caught as { code?: string }).code ?? String(caught)
}
reader.close()
const result = { bytes, sha256: hash.digest('hex'), error }
if (isMainThread) process.stdout.write(`${JSON.stringify(result)}\n`)
else parentPort!.postMessage(result)
