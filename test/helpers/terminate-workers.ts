// Starts worker threads that keep native calls in flight on open files (busy-file-worker.ts)
// and terminates each at a random moment; prints 'survived' when all are gone. Run as a child
// process (argv: dir iterations seed): a termination that throws in native code aborts it.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

import { prng } from './child.ts'

const [dir, iterationsText, seedText] = process.argv.slice(2) as [string, string, string]
const random = prng(Number(seedText))
const entry = new URL('./worker-entry.mjs', import.meta.url)
const script = new URL('./busy-file-worker.ts', import.meta.url).href
const kinds = ['growth', 'prefault', 'sync'] as const
for (let iteration = 0; iteration < Number(iterationsText); iteration++) {
  const kind = kinds[iteration % kinds.length]!
  const path = join(dir, `f${iteration}`)
  const worker = new Worker(entry, { workerData: { script, path, kind } })
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve())
    worker.once('error', reject)
  })
  // Let it run for a moment: some iterations end it at once, others mid-call.
  const turns = Math.floor(random() * 6)
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setTimeout(resolve, random() * 4))
  await worker.terminate()
  rmSync(path, { force: true })
  rmSync(`${path}-shm`, { force: true })
}
process.stdout.write('survived\n')
