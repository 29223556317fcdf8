#!/usr/bin/env node
// The `aof` command. Exit codes: 0 ok, 1 problem found, 2 usage error.
import { run } from './program.ts'

// `aof cat big.log | head`: a closed pipe ends the output quietly, as with cat(1).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw error
})

process.exitCode = await run(process.argv.slice(2))
