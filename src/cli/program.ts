/**
 * The `aof` command tree. Each command returns its exit code: 0 ok, 1 problem found,
 * 2 usage error. Errors become one line on stderr, `aof: CODE: message`, never a stack trace.
 * @module
 */
import { Command, CommanderError } from 'commander'

import * as bench from './commands/bench.ts'
import * as cat from './commands/cat.ts'
import * as compact from './commands/compact.ts'
import { demo, demoFollower, demoWriter } from './commands/demo.ts'
import * as inspect from './commands/inspect.ts'
import * as recover from './commands/recover.ts'
import * as state from './commands/state.ts'
import * as stats from './commands/stats.ts'
import * as tail from './commands/tail.ts'
import * as verify from './commands/verify.ts'
import { CliCode, ExitCode, describeError } from './output.ts'

export { ExitCode }

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 problem found (damage, a refusal, a failed check), 2 usage error (bad flag,
missing file, directory, no permission, a file of another kind). Errors are one line on stderr:
"aof: CODE: message". Colour only on a terminal (NO_COLOR turns it off). See docs/CLI.md.`

/** Runs the command line `argv` (without node and script) and resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok
  const done = (code: number): void => {
    exitCode = code
  }
  const program = new Command('aof')
    .description('Inspect, verify, repair, print, follow and measure aofkit files: append-only files, record logs, state logs.')
    .exitOverride()
    .configureOutput({
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
  stats.register(program, done)
  bench.register(program, done)

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
    process.stderr.write(`aof: ${line}\n`)
    return code
  }
}
