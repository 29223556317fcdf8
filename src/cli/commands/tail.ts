/**
 * `aof tail [-f] FILE`: the last entries of a log (or the last lines or bytes of raw data);
 * with `-f`, follows a live writer in another process, as `tail -f` does, until interrupted
 * or until the writer finishes the file (through a writer's close() it waits for the next one). Following reads through `AppendOnlyFile.openReader`
 * (and `tailLog` for entries): it never writes to the file, so the writer is not disturbed.
 * @module
 */
import type { Command } from 'commander'

import { AppendOnlyFile } from '../../aof/append-only-file.ts'
import type { FileReader } from '../../aof/reader.ts'
import type { AofkitError } from '../../errors.ts'
import { rewind } from '../../log/rewind.ts'
import { tailLog } from '../../log/tail-log.ts'
import { formatEntry, printRecords } from '../entries.ts'
import type { EntryFormat } from '../entries.ts'
import { Container, Content, openInput } from '../input.ts'
import { isJournalDirectory, tailJournal } from '../journal-dir.ts'
import type { Input } from '../input.ts'
import { CliCode, ExitCode, integerOption, usageError, warn, write } from '../output.ts'
import { hexDump } from './cat.ts'

interface TailOptions {
  follow?: boolean
  lines?: string
  bytes?: string
  records?: boolean
  raw?: boolean
  json?: boolean
  hex?: boolean
  offsets?: boolean
}

/** The offset of the `count`-th entry from the end (0 when there are fewer), walking back with rewind. */
function lastEntriesStart(input: Input, count: number): number {
  const source = input.source()
  let at: number | null = input.dataSize
  let start = input.dataSize
  for (let k = 0; k < count && at !== null && at > 0; k++) {
    at = rewind(source, at)
    if (at !== null) start = at
  }
  return count === 0 ? input.dataSize : start
}

/** The offset where the last `count` lines of raw data begin. */
function lastLinesStart(input: Input, count: number): number {
  let newlines = 0
  let end = input.dataSize
  // A final newline ends the last line; it does not start a new one.
  if (end > 0 && input.read(end - 1, end)[0] === 0x0a) end--
  const chunkSize = 64 * 1024
  for (let chunkEnd = end; chunkEnd > 0; chunkEnd -= chunkSize) {
    const begin = Math.max(0, chunkEnd - chunkSize)
    const chunk = input.read(begin, chunkEnd)
    for (let k = chunk.length - 1; k >= 0; k--) {
      if (chunk[k] === 0x0a && ++newlines === count) return begin + k + 1
    }
  }
  return 0
}

async function follow(reader: FileReader, input: Input, records: boolean, from: number, options: TailOptions, signal: AbortSignal): Promise<number> {
  if (records) {
    const format: EntryFormat = options.json === true ? 'json' : options.hex === true ? 'hex' : 'text'
    const state = input.content === Content.StateLog
    let damaged = 0
    const onCorrupt = (error: AofkitError): void => {
      damaged++
      warn(`${error.code}: ${error.message} (following resyncs at the next block)`)
    }
    for await (const { offset, data } of tailLog(reader, { from, signal, onCorrupt })) {
      await write(`${formatEntry(offset, data, format, state, options.offsets === true)}\n`)
    }
    return damaged === 0 ? ExitCode.ok : ExitCode.problem
  }
  let position = from
  for await (const chunk of reader.tail({ from, signal })) {
    await write(options.hex === true ? hexDump(chunk, position) : chunk)
    position += chunk.length
  }
  return ExitCode.ok
}

/** Runs `aof tail`. */
export async function tail(path: string, options: TailOptions): Promise<number> {
  if (options.records === true && options.raw === true) throw usageError('--records and --raw exclude each other')
  if (options.bytes !== undefined && options.records === true) throw usageError('--bytes counts raw bytes: it excludes --records')
  const count = integerOption('--lines', options.lines, 10)
  if (isJournalDirectory(path)) return tailJournal(path, count, options.follow === true, options)
  const input = openInput(path)
  let reader: FileReader | null = null
  try {
    const isLog = input.content === Content.RecordLog || input.content === Content.StateLog
    const records = options.records === true || options.json === true || (isLog && options.raw !== true && options.bytes === undefined)
    if (records && !isLog && input.content !== Content.Empty) {
      throw usageError(`'${path}' holds ${input.content}, not a record log: drop --records (and --json)`, CliCode.WrongKind)
    }
    if (options.follow === true && input.container !== Container.AppendOnly) {
      throw usageError(`'${path}' is a plain file: --follow needs an append-only file (a plain file has no writer to follow)`, CliCode.WrongKind)
    }
    // A writer that closes without finishing may come back: wait for it, as tail -f waits.
    if (options.follow === true) reader = AppendOnlyFile.openReader(path, { waitForWriter: true })
    let from: number
    if (records) from = lastEntriesStart(input, count)
    else if (options.bytes !== undefined) from = Math.max(0, input.dataSize - integerOption('--bytes', options.bytes, 0))
    else from = lastLinesStart(input, count)

    if (reader === null) {
      if (!records) {
        const bytes = input.read(from, input.dataSize)
        await write(options.hex === true ? hexDump(bytes, from) : bytes)
        return ExitCode.ok
      }
      const format: EntryFormat = options.json === true ? 'json' : options.hex === true ? 'hex' : 'text'
      const damaged = await printRecords(input, {
        start: from,
        from,
        to: Infinity,
        format,
        offsets: options.offsets === true,
        skipNote: '',
        progress: false,
      })
      return damaged === 0 ? ExitCode.ok : ExitCode.problem
    }

    // Follow until interrupted (Ctrl-C, SIGTERM) or until the writer finishes the file.
    const stop = new AbortController()
    const onSignal = (): void => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      return await follow(reader, input, records, from, options, stop.signal)
    } catch (error) {
      if (stop.signal.aborted && (error as Error).name === 'AbortError') return ExitCode.ok
      throw error
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
  } finally {
    reader?.close()
    input.close()
  }
}

/** Registers `aof tail`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('tail')
    .description('the last entries (or lines, or bytes); with -f, follow a live writer until interrupted')
    .argument('<file>', 'the file to read (read-only; a live writer is not disturbed)')
    .option('-f, --follow', 'keep printing what the writer appends, until Ctrl-C or until it finishes the file')
    .option('-n, --lines <count>', 'how many entries (of a log) or lines (of raw data) to print first', '10')
    .option('-c, --bytes <count>', 'print the last <count> bytes of the data instead')
    .option('-r, --records', 'entries, one per line (the default for a record log or state log)')
    .option('--raw', 'raw bytes, even of a log')
    .option('--json', 'entries as JSON lines (implies --records)')
    .option('-x, --hex', 'bytes as a hex dump; entries in hex')
    .option('--offsets', 'start each entry’s line with its offset and a tab')
    .addHelpText(
      'after',
      '\n--follow needs an append-only file; it ends with exit 0 when the writer finishes the file or on Ctrl-C,\n' +
        'and with exit 1 (one line) when the writer dies or the file is replaced.\n' +
        'Exit codes: 0 ok, 1 damage or a dead writer, 2 usage error.',
    )
    .action(async (file: string, options: TailOptions) => {
      done(await tail(file, options))
    })
}
