/**
 * `aof verify FILE`: reads every record and checks every checksum (and, for a state log, every
 * entry's framing and epoch), and reports each damaged range. Exit 0 clean, 1 damaged.
 * @module
 */
import type { Command } from 'commander'

import { analyze } from '../analyze.ts'
import type { Analysis } from '../analyze.ts'
import { Content, Life, openInput } from '../input.ts'
import { inspectJournal, isJournalDirectory } from '../journal-dir.ts'
import { ExitCode, color, printJson, progressBar, write } from '../output.ts'
import { damageLines, describeInput, repairOf } from './inspect.ts'

interface VerifyOptions {
  json?: boolean
  thorough?: boolean
}

/** Runs `aof verify`. */
export async function verify(path: string, options: VerifyOptions): Promise<number> {
  if (isJournalDirectory(path)) return inspectJournal(path, options, true)
  const input = openInput(path)
  try {
    const bar = progressBar('verify', input.dataSize, { minimum: 1 << 20 })
    let analysis: Analysis
    try {
      analysis = analyze(input, { thorough: options.thorough === true, onProgress: (done) => bar.update(done) })
    } finally {
      bar.stop()
    }
    const ok = analysis.damage.length === 0
    if (options.json === true) {
      printJson(describeInput(input, analysis, repairOf(input, analysis)))
      return ok ? ExitCode.ok : ExitCode.problem
    }
    const what =
      analysis.log !== null
        ? `${analysis.log.entries} entries of a ${input.content} in ${input.dataSize} bytes, every record checksum checked`
        : input.content === Content.Empty
          ? 'no data'
          : `${input.dataSize} bytes of raw data (no records to check)`
    const live = input.life === Life.Live ? ' (up to the committed size when read; a writer is appending)' : ''
    if (ok) await write(`${color.green('ok')}: ${input.path}: ${what}${live}\n`)
    else {
      await write(`${color.red('damaged')}: ${input.path}: ${what}${live}; ${analysis.damage.length} damaged range(s):\n`)
      await write(damageLines(analysis.damage))
      if (options.thorough !== true && analysis.log !== null) {
        await write(color.dim('  (--thorough searches the ranges for complete entries that resync skips)\n'))
      }
    }
    return ok ? ExitCode.ok : ExitCode.problem
  } finally {
    input.close()
  }
}

/** Registers `aof verify`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('verify')
    .description('check every record and checksum; report each damaged range')
    .argument('<file>', 'the file to check (read-only)')
    .option('--json', 'print one JSON object instead of text')
    .option('--thorough', 'search each damaged range for complete entries that the reader’s resync skips (salvage)')
    .addHelpText('after', '\nExit codes: 0 clean, 1 damage found, 2 usage error.')
    .action(async (file: string, options: VerifyOptions) => {
      done(await verify(file, options))
    })
}
