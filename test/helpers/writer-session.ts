/**
 * Child process of the writer-closed tests: one writer's session on a record log. Opens the
 * append-only file (creating it if needed), appends `logEntry(first..first+count-1)` through a
 * LogWriter, says `written`, waits for a line on stdin, then ends the session with close() alone
 * or with finish() and close(), says `done` and exits.
 *
 *   node --import tsx test/helpers/writer-session.ts <path> <first> <count> <close|finish>
 */
import { AppendOnlyFile, AppendOnlyFileSink, LogWriter } from '../../src/index.ts'
import { logEntry } from './log-entries.ts'

const [path, firstArgument, countArgument, end] = process.argv.slice(2)
if (path === undefined || firstArgument === undefined || countArgument === undefined || (end !== 'close' && end !== 'finish')) {
  process.stderr.write('usage: writer-session <path> <first> <count> <close|finish>\n')
  process.exit(2)
}
const first = Number(firstArgument)
const file = AppendOnlyFile.open(path, { create: true })
const writer = new LogWriter(new AppendOnlyFileSink(file))
for (let index = first; index < first + Number(countArgument); index++) writer.append(logEntry(index))
process.stdout.write('written\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
process.stdin.pause()
if (end === 'finish') await file.finish()
await file.close()
process.stdout.write('done\n')
