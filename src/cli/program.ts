/**
 * The `aof` command tree. Each command returns its exit code: 0 ok, 1 problem found,
 * 2 usage error. Errors become one line on stderr, `aof: CODE: message`, never a stack trace.
 * @module
 */
import { readFileSync } from 'node:fs'

import { Command, CommanderError } from 'commander'

import * as cat from './commands/cat.ts'
import * as compact from './commands/compact.ts'
import * as consumers from './commands/consumers.ts'
import { demo, demoFollower, demoWriter } from './commands/demo.ts'
import * as inspect from './commands/inspect.ts'
import * as recover from './commands/recover.ts'
import * as salvage from './commands/salvage.ts'
import * as state from './commands/state.ts'
import * as stats from './commands/stats.ts'
import * as tail from './commands/tail.ts'
import * as verify from './commands/verify.ts'
import { CliCode, ExitCode, describeError, withStreams } from './output.ts'
import type { Streams } from './output.ts'

export { ExitCode }
export type { Streams }

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 problem found (damage, a refusal, a failed check), 2 usage error (bad flag,
missing file, directory, no permission, a file of another kind). Errors are one line on stderr:
"aof: CODE: message". Colour only on a terminal (NO_COLOR turns it off). See docs/CLI.md.`

/** The package's version, from its package.json (two folders up from src/cli and dist/cli). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return String(manifest.version)
}

/**
 * Runs the command line `argv` (without node and script) and resolves to the exit code. Output
 * goes to `streams` (default: the process's stdout and stderr; questions read its stdin).
 */
export function run(argv: string[], streams?: Streams): Promise<number> {
  if (streams === undefined) return runHere(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin })
  return withStreams(streams, () => runHere(argv, streams))
}

async function runHere(argv: string[], streams: Streams): Promise<number> {
  let exitCode: number = ExitCode.ok
  const done = (code: number): void => {
    exitCode = code
  }
  const program = new Command('aof')
    .description('Inspect, verify, repair, print, follow and measure aofkit files: append-only files, record logs, state logs.')
    .version(packageVersion(), '-V, --version', 'print the version of aofkit and exit')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      // Commander's own errors (bad flag, missing argument) in our one-line form.
      outputError: (text, write) => {
        const [first, ...rest] = text.trim().split('\n')
        const message = (first ?? '').replace(/^error: /, '')
        write(`aof: ${CliCode.Usage}: ${message}\n${rest.length > 0 ? `${rest.join('\n')}\n` : ''}`)
      },
    })
    .addHelpText('after', EXIT_CODES_HELP)

  inspect.register(program, done)
  verify.register(program, done)
  recover.register(program, done)
  cat.register(program, done)
  tail.register(program, done)
  state.register(program, done)
  compact.register(program, done)
  salvage.register(program, done)
  stats.register(program, done)
  consumers.register(program, done)

  program
    .command('demo')
    .description('follow a writer live, kill -9 it mid-stream, restore, and check that every acknowledged update survived')
    .option('--dir <dir>', 'directory for the demo files (default: a new temporary directory)')
    .option('--seconds <seconds>', 'how long the writer runs before it is killed (at most 60)', '5')
    .option('--json', 'print the summary as JSON, without progress')
    .action(async (options: { dir?: string; seconds: string; json?: boolean }) => {
      exitCode = await demo(options)
    })

  program
    .command('demo-writer', { hidden: true })
    .argument('<file>')
    .action(async (file: string) => {
      exitCode = await demoWriter(file)
    })

  program
    .command('demo-follower', { hidden: true })
    .argument('<file>')
    .action(async (file: string) => {
      exitCode = await demoFollower(file)
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    }
    const { line, exitCode: code } = describeError(error)
    streams.stderr.write(`aof: ${line}\n`)
    return code
  }
}
