#!/usr/bin/env node
// The `aof` command. Exit codes: 0 ok, 1 problem found, 2 usage error.
import { isAofkitError } from '../errors.ts'
import { CliCode, describeError } from './output.ts'

// `aof cat big.log | head`: a closed pipe ends the output quietly, as with cat(1).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw error
})

// The commands load the library, and with it the native addon: a failure to load it (an install
// without its build step, another platform) is one line with its code, never a stack trace.
let run: (argv: string[]) => Promise<number>
try {
  ;({ run } = await import('./program.ts'))
} catch (error) {
  const { line, exitCode } = describeError(error)
  process.stderr.write(`aof: ${isAofkitError(error) ? line : `${CliCode.Unavailable}: ${line}`}\n`)
  process.exit(exitCode)
}
process.exitCode = await run(process.argv.slice(2))
