/**
 * `aof cat FILE`: prints the data of a file, from and to offsets: the entries of a record log or
 * state log one per line as text or JSON (as `aof tail` does), any other data as its bytes; a
 * hex dump with `--hex`. `--raw` prints a log's bytes, `--records` insists on entries.
 * @module
 */
import type { Command } from 'commander'

import { LogReader } from '../../log/log-reader.ts'
import { rewind } from '../../log/rewind.ts'
import { printRecords } from '../entries.ts'
import type { EntryFormat } from '../entries.ts'
import { Content, openInput } from '../input.ts'
import { catJournal, isJournalDirectory } from '../journal-dir.ts'
import type { Input } from '../input.ts'
import { CliCode, ExitCode, integerOption, progressBar, streams, usageError, write } from '../output.ts'

interface CatOptions {
  records?: boolean
  raw?: boolean
  hex?: boolean
  json?: boolean
  offsets?: boolean
  from?: string
  to?: string
}

/** A hex dump line per 16 bytes, as `hexdump -C` prints them. */
export function hexDump(bytes: Uint8Array, offset: number): string {
  let out = ''
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16)
    let hex = ''
    let text = ''
    for (let k = 0; k < 16; k++) {
      const byte = row[k]
      hex += byte === undefined ? '   ' : `${byte.toString(16).padStart(2, '0')} `
      if (k === 7) hex += ' '
      if (byte !== undefined) text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.'
    }
    out += `${(offset + at).toString(16).padStart(8, '0')}  ${hex} |${text}|\n`
  }
  return out
}

/** Where to start reading entries so that the first one returned starts at or after `from`. */
export function entryStart(input: Input, from: number): number {
  if (from === 0) return 0
  const source = input.source()
  // An offset where an entry starts (or the writer's padding before one): start right there.
  try {
    if (from < input.dataSize && new LogReader(source, { offset: from }).read() !== null) return from
  } catch {
    // Not an entry's start: find the entry before it.
  }
  try {
    // The last entry that starts before from + 1: the entry at `from` itself, if one starts there.
    return rewind(source, Math.min(from + 1, input.dataSize)) ?? 0
  } catch {
    return 0
  }
}

async function catBytes(input: Input, from: number, to: number, hex: boolean): Promise<void> {
  const bar = streams().stdout.isTTY === true ? progressBar('cat', 0) : progressBar('cat', to - from, { minimum: 8 << 20 })
  try {
    const chunkSize = 1 << 20
    for (let at = from; at < to; at += chunkSize) {
      const chunk = input.read(at, Math.min(to, at + chunkSize))
      await write(hex ? hexDump(chunk, at) : chunk)
      bar.update(at + chunk.length - from)
    }
  } finally {
    bar.stop()
  }
}

/** Runs `aof cat`. */
export async function cat(path: string, options: CatOptions): Promise<number> {
  const askedRecords = options.records === true || options.json === true
  if (askedRecords && options.raw === true) throw usageError('--raw prints bytes: it cannot go with --records or --json')
  if (options.offsets === true && options.raw === true) throw usageError('--offsets needs entries, not --raw')
  if (isJournalDirectory(path)) return catJournal(path, options)
  const input = openInput(path)
  try {
    const from = integerOption('--from', options.from, 0)
    const to = Math.min(integerOption('--to', options.to, input.dataSize), input.dataSize)
    const isLog = input.content === Content.RecordLog || input.content === Content.StateLog
    const records = askedRecords || (options.raw !== true && isLog)
    if (options.offsets === true && !records) throw usageError(`--offsets needs entries: '${path}' holds ${input.content}`)
    if (!records) {
      await catBytes(input, Math.min(from, to), to, options.hex === true)
      return ExitCode.ok
    }
    if (input.content !== Content.RecordLog && input.content !== Content.StateLog && input.content !== Content.Empty) {
      throw usageError(`'${path}' holds ${input.content}, not a record log: drop --records (and --json) to print its bytes`, CliCode.WrongKind)
    }
    const format: EntryFormat = options.json === true ? 'json' : options.hex === true ? 'hex' : 'text'
    const damaged = await printRecords(input, {
      start: entryStart(input, from),
      from,
      to,
      format,
      offsets: options.offsets === true,
      skipNote: ' (skipping to the next entry the reader finds)',
      progress: true,
    })
    return damaged === 0 ? ExitCode.ok : ExitCode.problem
  } finally {
    input.close()
  }
}

/** Registers `aof cat`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('cat')
    .description('print the data: a log’s entries one per line (text or JSON), other data as bytes or a hex dump')
    .argument('<file>', 'the file to print (read-only; a live file up to its committed size)')
    .option('-r, --records', 'print entries, and refuse a file that holds no log (the default for a log)')
    .option('--raw', 'print the bytes of a log, records and all, instead of its entries')
    .option('--json', 'entries as JSON lines: {"offset","size","text"|"base64"} (implies --records)')
    .option('-x, --hex', 'a hex dump of the bytes; of a log, each entry in hex')
    .option('--offsets', 'for entries: start each line with the entry’s offset and a tab')
    .option('--from <offset>', 'start at this data offset (entries: the first entry starting there or after)', undefined)
    .option('--to <offset>', 'stop before this data offset (entries: those starting before it)', undefined)
    .addHelpText(
      'after',
      '\nText lines escape control characters (\\n, \\t, \\xNN) so that each entry is one line; one trailing newline\n' +
        'is dropped. A state log prints "snapshot" or "update", a tab, then the payload.\n' +
        'Exit codes: 0 ok, 1 damaged records were skipped (a warning on stderr for each), 2 usage error.',
    )
    .action(async (file: string, options: CatOptions) => {
      done(await cat(file, options))
    })
}
