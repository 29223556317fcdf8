/**
 * Printing entries one per line, as text or JSON: shared by `aof cat --records` and `aof tail`.
 * @module
 */
import { AofkitError, ErrorCode } from '../errors.ts'
import { LogReader } from '../log/log-reader.ts'
import { readEntry } from '../log/scan.ts'
import { decodeStateEntry } from '../state/entry.ts'
import { EntryType } from '../state/entry.ts'
import { Content } from './input.ts'
import type { Input } from './input.ts'
import { progressBar, streams, warn, write } from './output.ts'

/** How entries are printed. */
export type EntryFormat = 'text' | 'json' | 'hex'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * One line of text for `bytes`: UTF-8 with control characters, backslashes and (in invalid
 * UTF-8) every non-ASCII byte escaped, so that an entry is always exactly one line. One
 * trailing newline is dropped: entries are often lines already.
 */
export function textLine(bytes: Uint8Array): string {
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === 0x0a) end--
  const body = bytes.subarray(0, end)
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    let out = ''
    for (const byte of body) {
      if (byte === 0x5c) out += '\\\\'
      else out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
    }
    return out
  }
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\\]/g, (char) => {
    switch (char) {
      case '\\':
        return '\\\\'
      case '\n':
        return '\\n'
      case '\r':
        return '\\r'
      case '\t':
        return '\\t'
      default:
        return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`
    }
  })
}

/** The JSON fields of some bytes: `text` when they are UTF-8, else `base64`. */
function dataFields(bytes: Uint8Array): { text: string } | { base64: string } {
  try {
    return { text: utf8.decode(bytes) }
  } catch {
    return { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') }
  }
}

/**
 * Formats one entry (without the newline). For a state log (`state` true) the entry's type
 * and epoch come first and the data is its payload.
 */
export function formatEntry(offset: number, data: Uint8Array, format: EntryFormat, state: boolean, offsets: boolean): string {
  let payload = data
  let kind: string | null = null
  let epoch: number | null = null
  if (state) {
    const entry = decodeStateEntry(data)
    if (entry !== null) {
      payload = entry.payload
      kind = entry.type === EntryType.Snapshot ? 'snapshot' : 'update'
      epoch = entry.epoch
    } else kind = 'malformed'
  }
  if (format === 'json') {
    return JSON.stringify({
      offset,
      size: payload.length,
      ...(kind === null ? {} : { type: kind, epoch }),
      ...dataFields(payload),
    })
  }
  const body = format === 'hex' ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('hex') : textLine(payload)
  const prefix = `${offsets ? `${offset}\t` : ''}${kind === null ? '' : `${kind}\t`}`
  return prefix + body
}

/** Collects lines and hands them on in chunks of about 64 KiB. */
export class LineBuffer {
  #lines: string[] = []
  #size = 0
  readonly #flush: (text: string) => Promise<void>

  constructor(flush: (text: string) => Promise<void>) {
    this.#flush = flush
  }

  /** Adds a line; resolves once it may be buffered further. */
  async push(line: string): Promise<void> {
    this.#lines.push(line)
    this.#size += line.length + 1
    if (this.#size >= 65536) await this.flush()
  }

  /** Writes what is buffered. */
  async flush(): Promise<void> {
    if (this.#lines.length === 0) return
    const text = `${this.#lines.join('\n')}\n`
    this.#lines = []
    this.#size = 0
    await this.#flush(text)
  }
}

/** What {@link printRecords} prints. */
export interface PrintRecords {
  /** An entry's offset to start reading at. */
  start: number
  /** Entries before this offset are skipped. */
  from: number
  /** Entries at or after this offset end the printing. */
  to: number
  format: EntryFormat
  offsets: boolean
  /** Appended to the warning about a damaged record (what happens next). */
  skipNote: string
  /** Show a progress bar (on a terminal, for large ranges). */
  progress: boolean
}

/**
 * Prints the entries of `input` in `[from, to)`, one per line; a damaged record is a warning on
 * stderr and reading goes on after it. Resolves to the number of damaged places passed over.
 */
export async function printRecords(input: Input, options: PrintRecords): Promise<number> {
  const { from, to, format, offsets } = options
  const state = input.content === Content.StateLog
  const reader = new LogReader(input.source(), { offset: options.start })
  const lines = new LineBuffer(write)
  const bar = !options.progress || streams().stdout.isTTY === true ? progressBar('cat', 0) : progressBar('cat', to - from, { minimum: 8 << 20 })
  let damaged = 0
  try {
    for (;;) {
      const entry = readEntry(reader)
      if (entry instanceof AofkitError) {
        damaged++
        await lines.flush()
        warn(`${entry.code}: ${entry.message}${entry.code === ErrorCode.LogCorrupted ? options.skipNote : ''}`)
        if (entry.code === ErrorCode.LogUnexpectedEof) break
        continue
      }
      if (entry === null) break
      const offset = reader.entryOffset
      if (offset >= to) break
      if (offset < from) continue
      await lines.push(formatEntry(offset, entry, format, state, offsets))
      bar.update(offset - from)
    }
    await lines.flush()
  } finally {
    bar.stop()
  }
  return damaged
}
