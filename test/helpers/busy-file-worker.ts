// A worker thread that keeps a native call in flight on an open append-only file, so that its
// termination meets one: `growth` (fallocate on the pool), `prefault` (madvise on the pool),
// `sync` (fdatasync and sync_file_range on the pool). workerData: { path, kind }.
import { parentPort, workerData } from 'node:worker_threads'

import { AppendOnlyFile } from '../../src/index.ts'

const { path, kind } = workerData as { path: string; kind: 'growth' | 'prefault' | 'sync' }
const geometry =
  kind === 'prefault'
    ? { sizeNow: 4096, growthStep: 8 << 20, sizeUpper: 1 << 30 }
    : { sizeNow: 4096, growthStep: 64 << 10, sizeUpper: 1 << 30 }
const file = AppendOnlyFile.open(path, { create: true, geometry })
const chunk = new Uint8Array(kind === 'sync' ? 4096 : 256 << 10)
parentPort!.postMessage('open')
for (;;) {
  try {
    if (kind === 'growth') file.writeNonBlocking(chunk)
    else file.write(chunk)
  } catch {
    // ERR_AOF_WOULD_BLOCK: growth is in flight on the pool, which is the point.
  }
  if (kind === 'sync') void file.sync().catch(() => undefined)
  if (file.size > 768 << 20) break
  await new Promise((resolve) => setImmediate(resolve))
}
await file.close()
parentPort!.postMessage('done')
