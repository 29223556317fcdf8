/**
 * `aof compact FILE`: rewrites a state log so that it starts at its latest snapshot, atomically
 * (the library's `compactFile`). Refuses a log a writer holds (exit 1).
 * @module
 */
import type { Command } from 'commander'

import { compactFile } from '../../state/compact.ts'
import { restore } from '../../state/restore.ts'
import { Container, Life, openInput } from '../input.ts'
import { ExitCode, bytesText, color, printJson, problemError, streams, write, writeError } from '../output.ts'
import { requireStateLog } from './state.ts'

interface CompactOptions {
  json?: boolean
}

/** Runs `aof compact`. */
export async function compact(path: string, options: CompactOptions): Promise<number> {
  const input = openInput(path)
  let appendOnly: boolean
  let epochBefore: number
  try {
    requireStateLog(input)
    if (input.life === Life.Live) {
      throw problemError(`a writer (pid ${input.sidecar?.writerPid ?? '?'}) has '${path}' open: compact it with the writer's compact()`, 'ERR_AOF_LOCKED')
    }
    appendOnly = input.container === Container.AppendOnly
    const restored = restore(input.source())
    restored.updates.close()
    epochBefore = restored.epoch
  } finally {
    input.close()
  }
  const status = streams().stderr.isTTY === true && options.json !== true
  if (status) writeError(`compacting ${path}…`)
  let result
  try {
    result = await compactFile(path, appendOnly ? { appendOnlyFile: true } : {})
  } finally {
    if (status) writeError('\r\u001b[K')
  }
  if (options.json === true) {
    printJson({ path, ...result, epochBefore, epochAfter: result.compacted ? 0 : epochBefore })
    return ExitCode.ok
  }
  if (!result.compacted) await write(`${color.green('ok')}: ${path}: already starts at its latest snapshot (${bytesText(result.sizeBefore)}); nothing to drop\n`)
  else {
    await write(
      `${color.green('compacted')}: ${path}: ${bytesText(result.sizeBefore)} → ${bytesText(result.sizeAfter)}; ` +
        `the snapshot of epoch ${epochBefore} now opens the log at offset 0 (epoch 0)\n`,
    )
  }
  return ExitCode.ok
}

/** Registers `aof compact`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('compact')
    .description('rewrite a state log to start at its latest snapshot (atomic; no writer may hold it)')
    .argument('<file>', 'a state log, in a plain file or an append-only file')
    .option('--json', 'print one JSON object: {compacted, sizeBefore, sizeAfter, epochBefore, epochAfter}')
    .addHelpText('after', '\nExit codes: 0 compacted (or nothing to drop), 1 refused (a writer holds it) or damaged, 2 usage error or not a state log.')
    .action(async (file: string, options: CompactOptions) => {
      done(await compact(file, options))
    })
}
