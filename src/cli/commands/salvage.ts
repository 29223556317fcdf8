/**
 * `aof salvage FILE`: rewrites a damaged state log so that it opens again (the library's
 * `salvageFile`): its latest readable snapshot, then every readable update of that epoch,
 * leaving out damaged ranges, the entries named with `--skip` (an entry the application cannot
 * decode, as ERR_STATE_ENTRY_REJECTED names it) or everything from `--cut-at` on. Says what it
 * would leave out, asks, keeps a copy of the old log, then installs the new one atomically.
 * @module
 */
import type { Command } from 'commander'

import { salvageFile } from '../../state/salvage.ts'
import type { SalvageResult } from '../../state/salvage.ts'
import { confirm } from '../confirm.ts'
import { Life, openInput } from '../input.ts'
import { CliCode, ExitCode, bytesText, color, printJson, problemError, usageError, write } from '../output.ts'
import { requireStateLog } from './state.ts'

interface SalvageOptions {
  skip?: string[]
  cutAt?: string
  yes?: boolean
  dryRun?: boolean
  backup?: string
  json?: boolean
}

function offsetOf(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw usageError(`${name} takes a byte offset, got '${text}'`)
  return Number(text)
}

function describe(path: string, plan: SalvageResult): string {
  const lines = [`${path}: a state log of ${bytesText(plan.sizeBefore)}`]
  lines.push(`  keep: ${plan.snapshotOffset === null ? 'no snapshot' : `the snapshot at ${plan.snapshotOffset}`}, then ${plan.updates} update(s)`)
  for (const range of plan.dropped) lines.push(`  leave out: bytes ${range.offset}..${range.end} (${bytesText(range.end - range.offset)}): ${range.reason}`)
  lines.push(`  the new log: ${bytesText(plan.sizeAfter)}${plan.snapshotOffset === null ? '' : ', starting at its snapshot (epoch 0)'}`)
  return `${lines.join('\n')}\n`
}

/** Runs `aof salvage`. */
export async function salvage(path: string, options: SalvageOptions): Promise<number> {
  const skip = (options.skip ?? []).map((text) => offsetOf(text, '--skip'))
  const given = { skip, ...(options.cutAt === undefined ? {} : { cutAt: offsetOf(options.cutAt, '--cut-at') }) }
  const input = openInput(path)
  try {
    requireStateLog(input)
    if (input.life === Life.Live) {
      throw problemError(`a writer (pid ${input.sidecar?.writerPid ?? '?'}) has '${path}' open: salvage never touches a log a writer holds`, 'ERR_AOF_LOCKED')
    }
  } finally {
    input.close()
  }
  const json = options.json === true
  const plan = await salvageFile(path, { ...given, dryRun: true })
  if (plan.dropped.length === 0) {
    if (json) printJson({ path, action: 'none', ...plan })
    else await write(`${color.green('ok')}: ${path}: every entry of the latest epoch reads; nothing to leave out\n`)
    return ExitCode.ok
  }
  if (!json) await write(describe(path, plan))
  if (options.dryRun === true) {
    if (json) printJson({ path, action: 'dry-run', ...plan })
    return ExitCode.problem
  }
  if (options.yes !== true && !(await confirm(`Rewrite ${path} without what is left out (a copy is kept)? [y/N] `))) {
    if (json) printJson({ path, action: 'declined', ...plan })
    throw problemError('not confirmed: nothing was changed (pass --yes to skip the question)', CliCode.Declined)
  }
  const done = await salvageFile(path, { ...given, ...(options.backup === undefined ? {} : { backup: options.backup }) })
  if (json) printJson({ path, action: 'salvaged', ...done })
  else await write(`${color.green('salvaged')}: ${path}: ${bytesText(done.sizeBefore)} → ${bytesText(done.sizeAfter)}; the old log is in ${done.backup ?? '(none)'}\n`)
  return ExitCode.ok
}

/** Registers `aof salvage`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('salvage')
    .description('rewrite a damaged state log so that it opens again, keeping every readable entry of its latest epoch (asks; keeps a copy)')
    .argument('<file>', 'a state log, in a plain file or an append-only file; no writer may hold it')
    .option('--skip <offset...>', 'also leave out the entries at these offsets (as ERR_STATE_ENTRY_REJECTED names them)')
    .option('--cut-at <offset>', 'leave out everything from this offset on (an entry, or where damage begins)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('-n, --dry-run', 'only say what would be left out (exit 1 if anything)')
    .option('--backup <path>', 'where to copy the old log (default: FILE.salvage, FILE.salvage-1, …)')
    .option('--json', 'print one JSON object: {action, salvaged, sizeBefore, sizeAfter, snapshotOffset, updates, dropped, backup}')
    .addHelpText(
      'after',
      '\nExit codes: 0 salvaged (or nothing to leave out), 1 refused (a writer holds it, not confirmed) or --dry-run with something to leave out, 2 usage error or not a state log.',
    )
    .action(async (file: string, options: SalvageOptions) => {
      done(await salvage(file, options))
    })
}
