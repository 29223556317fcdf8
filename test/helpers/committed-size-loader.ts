/**
 * Worker thread of the committed-size tests: loads the committed size from shared sidecar
 * words, as a reader in another thread does, until told to stop, and reports every value that
 * is not one the writer published (a multiple of `step`, never going back).
 */
import { parentPort, workerData } from 'node:worker_threads'

import { loadCommittedSize } from '../../src/aof/committed-size.ts'

const { buffer, step, stopIndex, readyIndex } = workerData as { buffer: SharedArrayBuffer; step: number; stopIndex: number; readyIndex: number }
const words = new Int32Array(buffer)
Atomics.store(words, readyIndex, 1)
Atomics.notify(words, readyIndex)
let last = 0
let loads = 0
let unfinished = 0
const wrong: number[] = []
while (Atomics.load(words, stopIndex) === 0) {
  const size = loadCommittedSize(words)
  loads++
  if (Number.isNaN(size)) {
    unfinished++
    continue
  }
  if (size % step !== 0 || size < last) {
    if (wrong.length < 10) wrong.push(size)
  } else {
    last = size
  }
}
parentPort!.postMessage({ loads, unfinished, wrong, last })
