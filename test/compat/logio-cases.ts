/**
 * Loads the logio vectors written by the reference Go implementation
 * (test/fixtures/vectors/logio, described in test/fixtures/vectors/README.md) and turns an
 * expected read result into the shape our reader produces.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const VECTORS_DIR = fileURLToPath(new URL('../fixtures/vectors/logio/', import.meta.url))

/** One expected result of a reference `Read()`. */
export interface ExpectedRead {
  length?: number
  entry?: string
  sha256?: string
  error?: string
  error_name?: string
}

/** One expected result of a reference `Rewind(file, limit)`. */
export interface ExpectedRewind {
  limit: number
  offset?: number
  error?: string
  error_name?: string
  panic?: string
}

/** One append as the reference writer did it. */
export interface ExpectedAppend {
  size: number
  tell_before: number
  entry_offset: number | null
  end_offset: number
  tell_after: number
  records: number
  padding: number
}

/** A case of logio/cases.json (fields we use). */
export interface LogioCase {
  name: string
  category: string
  description: string
  file: string
  file_length: number
  file_sha256: string
  start_offset?: number
  prefix_entries?: string[]
  entries?: string[]
  appends?: ExpectedAppend[]
  base?: string
  mutation?: {
    kind: string
    truncate?: number
    start_offset?: number
    appended_entries?: string[]
    first_entries?: string[]
    pad_to_block?: boolean
    second_entries?: string[]
  }
  reads: ExpectedRead[]
  reads_from_start_offset?: ExpectedRead[]
  rewind_walk: ExpectedRewind[]
  rewind_probes?: ExpectedRewind[]
}

/** The whole cases.json. */
export interface LogioCases {
  block_size: number
  header_size: number
  inline_max: number
  checksum_examples: { input: string; xxh64: string; checksum: number }[]
  aligned_examples: { offset: number; aligned: number }[]
  cases: LogioCase[]
}

export function loadCases(): LogioCases {
  return JSON.parse(readFileSync(new URL('cases.json', `file://${VECTORS_DIR}`), 'utf8')) as LogioCases
}

export function caseBytes(testCase: LogioCase): Uint8Array {
  return new Uint8Array(readFileSync(VECTORS_DIR + testCase.file))
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'))
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A read result in a comparable form: an entry summary, an error code, or 'end'. */
export type Outcome = { length: number; digest: string } | { code: string } | 'end'

export function entryOutcome(entry: Uint8Array): Outcome {
  return { length: entry.length, digest: sha256(entry) }
}

export function expectedOutcome(read: ExpectedRead): Outcome {
  if (read.error_name !== undefined) {
    switch (read.error_name) {
      case 'io.EOF':
        return 'end'
      case 'logio.ErrCorrupted':
        return { code: 'ERR_LOG_CORRUPTED' }
      case 'io.ErrUnexpectedEOF':
        return { code: 'ERR_LOG_UNEXPECTED_EOF' }
      default:
        throw new Error(`unexpected error_name ${read.error_name}`)
    }
  }
  const length = read.length as number
  const digest = read.sha256 ?? sha256(fromBase64(read.entry as string))
  return { length, digest }
}
