/**
 * A reader of a journal in a worker thread, for the time ring's adversarial tests. workerData:
 * `{ dir, count, seed }`. Reads the journal in bursts from where it stopped, pausing 0-150 ms
 * between bursts (so that it reads entries whose time records the writer is about to push out
 * of the ring, or already has), and now and then re-reads from a position further back with a
 * reader opened afresh. Posts `[position, time][]` of everything it read once it read `count`
 * entries.
 */
import { parentPort, workerData } from 'node:worker_threads'

import { Journal } from '../../src/index.ts'
import { prng } from './child.ts'

const { dir, count, seed } = workerData as { dir: string; count: number; seed: number }
const random = prng(seed)
const seen: Array<[number, number]> = []
const reader = await Journal.openReader(dir)
let next = 0
while (next < count) {
  for (const entry of reader.read({ from: next })) {
    seen.push([entry.position, entry.time])
    next = entry.position + 1
  }
  if (next > 0 && random() < 0.2) {
    const fresh = await Journal.openReader(dir)
    const from = Math.floor(random() * next)
    for (const entry of fresh.read({ from, to: next })) seen.push([entry.position, entry.time])
    fresh.close()
  }
  await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 150)))
}
reader.close()
parentPort!.postMessage(seen)
