/**
 * Child process of the full-disk fault test: writes deterministic records to a file until a
 * write fails, then reports the error code. A SIGBUS from a store into unallocated space would
 * end this process with a signal instead, which the parent reports as a failure.
 *
 *   node --import tsx test/helpers/fill-writer.ts <path> <seed>
 *
 * Protocol on stdout: "." after each write returned, then "E<code>;" for the first error, then
 * "A<code>;" for a second attempt of the same write (which must fail the same way), then "D".
 */

import { AppendOnlyFile } from '../../src/index.ts'
import { crashRecord } from './aof-model.ts'
import { writeStdoutSync } from './stdout.ts'

const [path, seedText] = process.argv.slice(2)
if (path === undefined || seedText === undefined) {
  process.stderr.write('usage: fill-writer <path> <seed>\n')
  process.exit(2)
}
const seed = Number(seedText)

const report = writeStdoutSync

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : (error as Error).message
}

const file = AppendOnlyFile.open(path, {
  create: true,
  geometry: { sizeNow: 4096, growthStep: 64 * 1024, sizeUpper: 64 * 1024 * 1024 },
})
for (let i = 0; ; i++) {
  const record = crashRecord(seed, i, 32 * 1024)
  try {
    file.write(record)
  } catch (error) {
    report(`E${codeOf(error)};`)
    try {
      file.write(record)
      report('Aok;')
    } catch (again) {
      report(`A${codeOf(again)};`)
    }
    break
  }
  report('.')
}
await file.close()
report('D')
