/**
 * Child process of the live record log tests: creates an append-only file, says `ready`, waits
 * for a line on stdin, then appends `logEntry(0..count-1)` through a LogWriter and finishes the
 * file — or, with count `forever`, appends until it is killed, reporting progress on stdout.
 *
 *   node --import tsx test/helpers/log-writer-child.ts <path> <count|forever>
 */
import { AppendOnlyFile, AppendOnlyFileSink, LogWriter } from '../../src/index.ts'
import { logEntry } from './log-entries.ts'

const [path, countArgument] = process.argv.slice(2)
if (path === undefined || countArgument === undefined) {
  process.stderr.write('usage: log-writer-child <path> <count|forever>\n')
  process.exit(2)
}
const count = countArgument === 'forever' ? Infinity : Number(countArgument)
const file = AppendOnlyFile.open(path, { create: true })
const writer = new LogWriter(new AppendOnlyFileSink(file))
process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
process.stdin.pause()
let index = 0
while (index < count) {
  const batchEnd = Math.min(count, index + 1000)
  for (; index < batchEnd; index++) writer.append(logEntry(index))
  process.stdout.write(`${index}\n`)
  // Let the event loop turn, so followers are woken while the writer runs.
  await new Promise((resolve) => setImmediate(resolve))
}
await file.finish()
await file.close()
process.stdout.write('done\n')
