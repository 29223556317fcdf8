#!/usr/bin/env node
// The `aof` command. Exit codes: 0 ok, 1 problem found, 2 usage error.
import { run } from './program.ts'

process.exitCode = await run(process.argv.slice(2))
