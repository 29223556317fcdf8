/**
 * `aof state FILE`: restores a state log (the library's `restore`) and shows its epoch, the
 * snapshot's size and the number of updates after it; `--snapshot` prints the snapshot's bytes.
 * @module
 */
import type { Command } from 'commander'

import { restore } from '../../state/restore.ts'
import { Container, Content, Life, openInput } from '../input.ts'
import type { Input } from '../input.ts'
import { CliCode, ExitCode, bytesText, color, keyValues, printJson, usageError, write } from '../output.ts'

interface StateOptions {
  json?: boolean
  snapshot?: boolean
}

/** Checks that `input` holds a state log; a usage error (exit 2) otherwise. */
export function requireStateLog(input: Input): void {
  if (input.content === Content.StateLog || input.content === Content.Empty) return
  throw usageError(`'${input.path}' holds ${input.content}, not a state log`, CliCode.WrongKind)
}

/** Runs `aof state`. */
export async function state(path: string, options: StateOptions): Promise<number> {
  const input = openInput(path)
  try {
    requireStateLog(input)
    const restored = restore(input.source())
    let updates = 0
    let updateBytes = 0
    for (const update of restored.updates) {
      updates++
      updateBytes += update.length
    }
    const snapshotSize = restored.state === null ? null : restored.state.length
    if (options.snapshot === true) {
      if (restored.state !== null) await write(restored.state)
      return ExitCode.ok
    }
    if (options.json === true) {
      printJson({ path, container: input.container, life: input.life, size: input.dataSize, epoch: restored.epoch, snapshotSize, updates, updateBytes })
      return ExitCode.ok
    }
    const rows: [string, string][] = [
      ['log', `${input.container === Container.AppendOnly ? 'in an append-only file' : 'in a plain file'}, ${bytesText(input.dataSize)}${input.life === Life.Live ? ' (live: as committed now)' : ''}`],
      ['epoch', `${restored.epoch}${restored.epoch === 0 ? ' (the log starts with its latest snapshot, or has none)' : ''}`],
      ['snapshot', snapshotSize === null ? 'none' : bytesText(snapshotSize)],
      ['updates', `${updates} since the snapshot (${bytesText(updateBytes)})`],
    ]
    await write(`${color.bold(path)}\n${keyValues(rows)}`)
    return ExitCode.ok
  } finally {
    input.close()
  }
}

/** Registers `aof state`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('state')
    .description('restore a state log: its epoch, snapshot size and update count')
    .argument('<file>', 'a state log, in a plain file or an append-only file (read-only)')
    .option('--json', 'print one JSON object: {epoch, snapshotSize, updates, updateBytes, …}')
    .option('--snapshot', 'print the latest snapshot’s bytes and nothing else')
    .addHelpText('after', '\nExit codes: 0 restored, 1 the log cannot be restored (damage; see aof verify), 2 usage error or not a state log.')
    .action(async (file: string, options: StateOptions) => {
      done(await state(file, options))
    })
}
