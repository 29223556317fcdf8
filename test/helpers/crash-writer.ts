/**
 * Child process of the crash tests: opens a file and runs the deterministic operation stream
 * from a given index as fast as it can, until it is killed.
 *
 *   node --import tsx test/helpers/crash-writer.ts <path> <seed> <start> <maxSize> <growthStep> <sizeUpper>
 *
 * Protocol on stdout (a pipe, written synchronously): "R" once open, then one "." after each
 * operation returned, so the parent knows exactly how many were acknowledged; "F" when the
 * file is full (it then idles until killed). Any failure: message on stderr, exit code 1.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'

import { AppendOnlyFile, isAofkitError } from '../../src/index.ts'
import { ExpectedStream, crashOp } from './crash-ops.ts'
import { writeStdoutSync } from './stdout.ts'

const [path, seedText, startText, maxSizeText, growthStepText, sizeUpperText] = process.argv.slice(2)
if (path === undefined || sizeUpperText === undefined) {
  process.stderr.write('usage: crash-writer <path> <seed> <start> <maxSize> <growthStep> <sizeUpper>\n')
  process.exit(2)
}
const seed = Number(seedText)
const start = Number(startText)
const maxSize = Number(maxSizeText)

const file = AppendOnlyFile.open(path, {
  create: true,
  geometry: { sizeNow: 4096, growthStep: Number(growthStepText), sizeUpper: Number(sizeUpperText) },
})
const expected = new ExpectedStream(seed, maxSize)
if (file.size !== expected.end(start)) {
  process.stderr.write(`opened with size ${file.size}, expected ${expected.end(start)} for ${start} operations\n`)
  process.exit(1)
}
const report = writeStdoutSync

report('R')

for (let i = start; ; i++) {
  const op = crashOp(seed, i, maxSize)
  try {
    if (op.kind === 'checkpoint') {
      file.checkpoint()
    } else if (op.kind === 'write') {
      file.write(op.bytes)
    } else if (op.kind === 'append') {
      const bytes = op.bytes
      file.append(bytes.length + op.slack, (event) => {
        // Scribble over the slack too: append must zero what was reserved but not used.
        event.tail.fill(0xa5)
        event.tail.set(bytes)
        return bytes.length
      })
    } else {
      try {
        file.writeNonBlocking(op.bytes)
      } catch (error) {
        if (!isAofkitError(error, 'ERR_AOF_WOULD_BLOCK')) throw error
        file.write(op.bytes)
      }
    }
  } catch (error) {
    if (isAofkitError(error, 'ERR_AOF_FULL')) {
      report('F')
      setInterval(() => undefined, 1000)
      break
    }
    throw error
  }
  report('.')
  // Let background growth, prefaulting and flushes run now and then.
  if (i % 64 === 0) await yieldToLoop()
  if (i % 512 === 0) void file.flush().catch(() => undefined)
}
