/**
 * A writer child for the `aof tail -f` and `aof recover` tests: opens (creates) an append-only
 * file, appends `--initial` entries (a record log, or raw lines with `--raw`), prints "ready",
 * then for each stdin line: "append TEXT" appends an entry and prints "wrote TEXT"; "finish"
 * finishes the file and exits. The tests kill it with SIGKILL otherwise.
 *
 *   node --import tsx test/cli/live-writer.ts FILE [--initial N] [--raw]
 */
import { createInterface } from 'node:readline'

import { AppendOnlyFile, AppendOnlyFileSink, LogWriter } from '../../src/index.ts'

const [path, ...rest] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: live-writer.ts FILE [--initial N] [--raw]')
const initialIndex = rest.indexOf('--initial')
const initial = initialIndex >= 0 ? Number(rest[initialIndex + 1]) : 0
const raw = rest.includes('--raw')

const file = AppendOnlyFile.open(path, { create: true })
const log = raw ? null : new LogWriter(new AppendOnlyFileSink(file))
const append = (text: string): void => {
  if (log === null) file.write(Buffer.from(`${text}\n`))
  else log.append(Buffer.from(text))
}
for (let k = 0; k < initial; k++) append(`initial ${k}`)
process.stdout.write('ready\n')

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line.startsWith('append ')) {
    const text = line.slice('append '.length)
    append(text)
    process.stdout.write(`wrote ${text}\n`)
  } else if (line === 'finish') {
    await file.finish()
    await file.close()
    process.stdout.write('finished\n')
    process.exit(0)
  }
}
