/**
 * `aof consumers DIR`: the durable consumers of a journal, with their committed positions and
 * how far behind they are; `--reset NAME --to POSITION` and `--delete NAME` change one (no
 * instance of it may be open).
 * @module
 */
import type { Command } from 'commander'

import { Journal } from '../../journal/journal.ts'
import { ExitCode, bytesText, color, integerOption, printJson, table, usageError, write } from '../output.ts'

interface ConsumersOptions {
  json?: boolean
  reset?: string
  to?: string
  delete?: string
}

/** Runs `aof consumers`. */
export async function consumers(dir: string, options: ConsumersOptions): Promise<number> {
  if (options.reset !== undefined && options.delete !== undefined) throw usageError('--reset and --delete go one at a time')
  if (options.reset !== undefined) {
    if (options.to === undefined) throw usageError('--reset NAME needs --to POSITION (the new committed position; -1: nothing handled)')
    const position = options.to === '-1' ? -1 : integerOption('--to', options.to, 0)
    await Journal.resetConsumer(dir, options.reset, position)
    if (options.json === true) printJson({ reset: options.reset, committed: position })
    else await write(`${color.green('reset')}: consumer ${options.reset} of ${dir}: committed position ${position}; it next gets ${position + 1}\n`)
    return ExitCode.ok
  }
  if (options.to !== undefined) throw usageError('--to goes with --reset NAME')
  if (options.delete !== undefined) {
    await Journal.deleteConsumer(dir, options.delete)
    if (options.json === true) printJson({ deleted: options.delete })
    else await write(`${color.green('deleted')}: consumer ${options.delete} of ${dir}\n`)
    return ExitCode.ok
  }
  const list = await Journal.consumers(dir)
  const status = list.some((info) => info.error !== null) ? ExitCode.problem : ExitCode.ok
  if (options.json === true) {
    printJson({ consumers: list })
    return status
  }
  if (list.length === 0) {
    await write(`${dir}: no consumers\n`)
    return ExitCode.ok
  }
  const rows = list.map((info) => [
    info.name,
    info.error === null ? String(info.committed) : color.red('?'),
    String(info.lag),
    bytesText(info.lagBytes),
    info.active ? color.green('open') : '-',
    info.holdsRetention ? color.yellow('holds retention') : '-',
  ])
  let out = `${table(['consumer', 'committed', 'lag', 'lag bytes', 'instance', 'retention'], rows, ['left', 'right', 'right', 'right'])}\n`
  for (const { name, error } of list) {
    if (error === null) continue
    out += `${color.red('damaged')}: consumer ${name}: ${error.code}: ${error.message}; counted from the start until it is reset (--reset ${name} --to POSITION) or deleted (--delete ${name})\n`
  }
  await write(out)
  return status
}

/** Registers `aof consumers`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('consumers')
    .description("list a journal's durable consumers with their lag; reset or delete one")
    .argument('<dir>', 'a journal directory')
    .option('--json', 'print one JSON object: {consumers: [{name, committed, committedAt, lag, lagBytes, active, holdsRetention, error}]}')
    .option('--reset <name>', 'set the committed position of consumer <name> (with --to)')
    .option('--to <position>', 'the committed position --reset sets (-1: nothing handled)')
    .option('--delete <name>', 'delete consumer <name>: it no longer holds retention back')
    .addHelpText('after', '\nNo instance of a consumer may be open while it is reset or deleted (ERR_AOF_LOCKED, exit 1).\nExit codes: 0 ok, 1 a damaged consumer position file (the others are listed), refused (an open instance) or not a journal, 2 usage error or a missing directory.')
    .action(async (dir: string, options: ConsumersOptions) => {
      done(await consumers(dir, options))
    })
}
