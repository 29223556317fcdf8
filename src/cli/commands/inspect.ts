/**
 * `aof inspect FILE`: what the file is (append-only or plain; raw bytes, record log or state
 * log; finished or live; writer alive or not), its sizes, the recovery outcome, checkpoints,
 * entry counts and epochs. Exit 1 when it found damage.
 * @module
 */
import type { Command } from 'commander'

import { analyze } from '../analyze.ts'
import type { Analysis, Damage } from '../analyze.ts'
import { Container, Content, Life, openInput, recoveryName } from '../input.ts'
import { inspectJournal, isJournalDirectory } from '../journal-dir.ts'
import type { Input } from '../input.ts'
import { planRepair } from '../repair.ts'
import type { Repair } from '../repair.ts'
import { ExitCode, bytesText, color, keyValues, printJson, progressBar, write } from '../output.ts'

interface InspectOptions {
  json?: boolean
  thorough?: boolean
}

/** What a repair would do, judged on the scan the analysis made. */
export function repairOf(input: Input, analysis: Analysis): Repair {
  const scan = analysis.log
  return planRepair(input, scan === null ? {} : { scan: () => scan })
}

/** The JSON shape shared by inspect and verify (docs/CLI.md). */
export function describeInput(input: Input, analysis: Analysis, repair: Repair): Record<string, unknown> {
  return {
    path: input.path,
    container: input.container,
    content: input.content,
    fileSize: input.fileSize,
    dataSize: input.dataSize,
    life: input.life,
    writer:
      input.sidecar === null
        ? null
        : { pid: input.sidecar.writerPid, alive: input.sidecar.writerAlive, committedSize: input.sidecar.committedSize },
    recovery:
      input.recovery === null
        ? null
        : {
            outcome: recoveryName(input.recovery.outcome),
            tail: input.recovery.tail,
            checkpoint: input.recovery.checkpoint,
            ...(input.recovery.error === undefined ? {} : { error: input.recovery.error.message }),
          },
    checkpoints: analysis.checkpoints,
    log:
      analysis.log === null
        ? null
        : {
            entries: analysis.log.entries,
            entryBytes: analysis.log.entryBytes,
            firstEntry: analysis.log.firstEntry,
            lastEntry: analysis.log.lastEntry,
            goodEnd: analysis.log.goodEnd,
          },
    state: analysis.state,
    damage: analysis.damage,
    repair,
    ok: analysis.damage.length === 0,
  }
}

/** One line per damaged range, for people. */
export function damageLines(damage: readonly Damage[]): string {
  return damage
    .map((range) => {
      const where = `bytes ${range.begin}..${range.end} (${range.end - range.begin} B)`
      let line = `  ${color.red(where)} ${range.layer}: ${range.code}: ${range.reason}\n`
      if (range.salvageable !== undefined) {
        const shown = range.salvageable.slice(0, 10).join(', ')
        line +=
          range.salvageable.length === 0
            ? '    salvage: no complete entry inside\n'
            : `    salvage: ${range.salvageable.length} complete entries inside that the reader's resync skips, at ${shown}${
                range.salvageable.length > 10 ? ', …' : ''
              }\n`
      }
      return line
    })
    .join('')
}

function lifeText(input: Input): string {
  const sidecar = input.sidecar
  switch (input.life) {
    case Life.Live:
      return color.green(`live: writer pid ${sidecar?.writerPid ?? '?'} is alive and has it open`)
    case Life.WriterDied:
      return color.yellow(`writer died: pid ${sidecar?.writerPid ?? '?'} is gone and left the file open (killed or crashed)`)
    case Life.Finished:
      return 'finished (read-only, ends with a MagicCheckpoint)'
    case Life.Closed:
      return 'closed without finish() (ends with a MagicTail; a writer may reopen it)'
    case Life.Damaged:
      return color.red('damaged: no magic number ends the data')
    case Life.Empty:
      return 'empty (all zeros)'
    default:
      return '-'
  }
}

/** What `aof recover` would do, in words. */
export function repairText(repair: Repair): string {
  switch (repair.action) {
    case 'none':
      return `nothing to repair: ${repair.reason}`
    case 'cut':
      return color.yellow(`aof recover cuts bytes ${repair.offset}..${repair.end} (${bytesText(repair.end - repair.offset)}), keeping everything before them`)
    case 'refuse':
      return color.red(`aof recover refuses: ${repair.code}: ${repair.reason}`)
  }
}

/** The human summary of `input` and its analysis. */
export function summaryRows(input: Input, analysis: Analysis, repair: Repair): [string, string][] {
  const kind =
    input.container === Container.AppendOnly
      ? `${input.container} holding ${input.content === Content.Empty ? 'no data' : input.content}`
      : `${input.container} holding ${input.content === Content.Empty ? 'nothing' : input.content}`
  const rows: [string, string][] = [['kind', kind]]
  if (input.container === Container.AppendOnly) rows.push(['state', lifeText(input)])
  rows.push(['file size', bytesText(input.fileSize)])
  rows.push(['data size', bytesText(input.dataSize)])
  if (input.recovery !== null) {
    const recovery = input.recovery
    let text = `${recoveryName(recovery.outcome)}, data ends at ${recovery.tail}`
    if (input.life === Life.Live) text = `not run: a writer has the file open (magic numbers: ${text})`
    else if (input.life === Life.WriterDied) text += `; the sidecar's committed size ${input.sidecar?.committedSize ?? '?'} decides on the next open`
    rows.push(['recovery', text])
  }
  if (input.sidecar !== null && input.sidecar.lastCheckpoint >= 0) rows.push(['last checkpoint', String(input.sidecar.lastCheckpoint)])
  if (analysis.checkpoints !== null) {
    const { count, offsets } = analysis.checkpoints
    rows.push(['checkpoints', count === 0 ? 'none in the data' : `${count} in the data, at ${offsets.slice(0, 8).join(', ')}${count > 8 ? ', …' : ''}`])
  }
  const log = analysis.log
  if (log !== null) {
    rows.push([
      'entries',
      log.entries === 0 ? 'none readable' : `${log.entries} (${bytesText(log.entryBytes)} of data), first at ${log.firstEntry}, last at ${log.lastEntry}`,
    ])
  }
  const state = analysis.state
  if (state !== null) {
    rows.push(['snapshots', `${state.snapshots} (epochs), ${state.updatesTotal} updates in the whole log`])
    if (state.restored !== null) {
      const r = state.restored
      rows.push(['epoch', String(r.epoch)])
      rows.push(['snapshot', r.snapshotSize === null ? 'none in this epoch' : bytesText(r.snapshotSize)])
      rows.push(['updates', `${r.updates} in this epoch (${bytesText(r.updateBytes)})`])
    } else {
      rows.push(['restore', color.red(`fails: ${state.restoreError ?? '?'}`)])
    }
  }
  rows.push([
    'damage',
    analysis.damage.length === 0 ? color.green('none found') : color.red(`${analysis.damage.length} damaged range(s), see below`),
  ])
  rows.push(['repair', repairText(repair)])
  return rows
}

/** Runs `aof inspect`. */
export async function inspect(path: string, options: InspectOptions): Promise<number> {
  if (isJournalDirectory(path)) return inspectJournal(path, options)
  const input = openInput(path)
  try {
    const bar = progressBar('inspect', input.dataSize, { minimum: 16 << 20 })
    let analysis: Analysis
    try {
      analysis = analyze(input, { thorough: options.thorough === true, onProgress: (done) => bar.update(done) })
    } finally {
      bar.stop()
    }
    const repair = repairOf(input, analysis)
    if (options.json === true) printJson(describeInput(input, analysis, repair))
    else {
      await write(`${color.bold(input.path)}\n${keyValues(summaryRows(input, analysis, repair))}`)
      if (analysis.damage.length > 0) await write(`\n${damageLines(analysis.damage)}`)
    }
    return analysis.damage.length === 0 ? ExitCode.ok : ExitCode.problem
  } finally {
    input.close()
  }
}

/** Registers `aof inspect`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('inspect')
    .description('what the file is, its sizes, recovery outcome, checkpoints, entries and epochs')
    .argument('<file>', 'the file to look at (read-only: a live writer is not disturbed)')
    .option('--json', 'print one JSON object instead of text')
    .option('--thorough', 'also search damaged ranges for complete entries that resync skips')
    .addHelpText('after', '\nExit codes: 0 nothing wrong found, 1 damage found, 2 usage error (missing file, bad flag).')
    .action(async (file: string, options: InspectOptions) => {
      done(await inspect(file, options))
    })
}
