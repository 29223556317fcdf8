/**
 * The `aof` command tree. Each command returns its exit code: 0 ok, 1 problem found,
 * 2 usage error. Errors become one line on stderr, never a stack trace.
 * @module
 */
import { Command, CommanderError } from 'commander'

import { isAofkitError } from '../errors.ts'
import { demo, demoWriter } from './commands/demo.ts'

/** Exit codes of the `aof` command. */
export const ExitCode = { ok: 0, problem: 1, usage: 2 } as const

/** Runs the command line `argv` (without node and script) and resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok
  const program = new Command('aof')
    .description('Inspect, verify, follow and demonstrate aofkit append-only logs.')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })

  program
    .command('demo')
    .description('kill -9 a writer mid-stream, recover, and check that every acknowledged write survived')
    .option('--dir <dir>', 'directory for the demo files (default: a new temporary directory)')
    .option('--seconds <seconds>', 'how long the writer runs before it is killed', '2')
    .action(async (options: { dir?: string; seconds: string }) => {
      exitCode = await demo(options)
    })

  program
    .command('demo-writer', { hidden: true })
    .argument('<file>')
    .action(async (file: string) => {
      exitCode = await demoWriter(file)
    })

  try {
    await program.parseAsync(argv, { from: 'user' })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    }
    const message = isAofkitError(error) ? `${error.code}: ${error.message}` : String((error as Error).message ?? error)
    process.stderr.write(`aof: ${message}\n`)
    return ExitCode.problem
  }
}
