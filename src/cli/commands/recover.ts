/**
 * `aof recover FILE`: repairs a torn or corrupt tail, after asking (or `--yes`), keeping a
 * backup of the bytes it cuts unless told not to. What to cut, or why not, is decided by
 * `planRepair` (the judgement `aof inspect` reports too); this command confirms, keeps the
 * backup, has the library make the cut and reports it: an append-only file is opened for
 * writing with `recovery: { repair: true }`, a state log with `StateWriter.open` (its torn-tail
 * cut), a plain record log cut by `cutTornTail` under the writer's lock.
 * @module
 */
import { closeSync, existsSync, openSync, statSync, writeFileSync } from 'node:fs'

import type { Command } from 'commander'

import { MAGIC_SIZE } from '../../aof/magic.ts'
import { Manager } from '../../aof/manager.ts'
import { RecoveryKind, recoverWithMagic } from '../../aof/recovery.ts'
import type { RecoveryFunction } from '../../aof/recovery.ts'
import { ErrorCode, fromSystemError } from '../../errors.ts'
import { isLocked } from '../../io/lock.ts'
import { scanLog } from '../../log/scan.ts'
import type { LogScan } from '../../log/scan.ts'
import { cutTornTail } from '../../log/torn-tail.ts'
import { StateWriter } from '../../state/state-writer.ts'
import { confirm } from '../confirm.ts'
import { Content, openInput, readRange } from '../input.ts'
import type { Input } from '../input.ts'
import { CliCode, ExitCode, bytesText, color, printJson, problemError, progressBar, usageError, write } from '../output.ts'
import { planRepair } from '../repair.ts'
import type { Repair } from '../repair.ts'

interface RecoverOptions {
  yes?: boolean
  backup: string | boolean
  dryRun?: boolean
  json?: boolean
}

/** What recover will cut. */
type Plan = Extract<Repair, { action: 'cut' }>

/** Bytes `[begin, end)` of the file at `path`. */
function readFileRange(path: string, begin: number, end: number): Buffer {
  const fd = openSync(path, 'r')
  try {
    return readRange(fd, begin, end)
  } catch (error) {
    throw fromSystemError(error, path, 'read')
  } finally {
    closeSync(fd)
  }
}

/** Reads the whole log, with a progress bar on a terminal. */
function scanWithProgress(input: Input): LogScan {
  const source = input.source()
  const bar = progressBar('recover: reading', source.size, { minimum: 1 << 20 })
  try {
    return scanLog(source, { onProgress: (done) => bar.update(done) })
  } finally {
    bar.stop()
  }
}

/** Throws ERR_AOF_LOCKED (exit 1) if a writer holds the file's lock. Takes and drops it. */
function checkUnlocked(path: string): void {
  if (isLocked(path)) {
    throw problemError(`'${path}' is locked by a writer: recover never touches a file a writer holds`, ErrorCode.Locked)
  }
}

function backupPath(path: string, offset: number): string {
  const base = `${path}.cut-${offset}`
  let candidate = base
  for (let k = 1; existsSync(candidate); k++) candidate = `${base}.${k}`
  return candidate
}

/** Makes the cut; returns the bytes cut, as the library reports them. */
async function apply(input: Input, cut: Plan): Promise<number> {
  switch (cut.method) {
    case 'append-only file': {
      const manager = new Manager({ flushIntervalMs: 0 })
      try {
        // Recovery by magic numbers, except that a damaged tail is cut where the plan says (the
        // end of the last whole log entry, or the last checkpoint).
        const fn: RecoveryFunction = (fileSize, bytes, magic) => {
          const result = recoverWithMagic(fileSize, bytes, magic)
          if (result.outcome !== RecoveryKind.Corrupted) return result
          return { ...result, tail: cut.offset, checkpoint: result.checkpoint + MAGIC_SIZE <= cut.offset ? result.checkpoint : -1 }
        }
        const file = manager.open(input.path, { recovery: { fn, repair: true } })
        const { tail, cutBytes } = file.recovery
        await file.close()
        if (tail !== cut.offset) throw problemError(`the open cut the data back to ${tail}, not ${cut.offset} as planned`, ErrorCode.Corrupted)
        return cutBytes
      } finally {
        await manager.close()
      }
    }
    case 'state log': {
      const writer = await StateWriter.open(input.path, { sync: 'none' })
      const done = writer.cut
      await writer.close()
      if (done === null || done.offset !== cut.offset) {
        throw problemError(`the state log writer cut ${done === null ? 'nothing' : `at ${done.offset}`}, not at ${cut.offset} as planned`, ErrorCode.LogCorrupted)
      }
      return done.size
    }
    case 'record log':
      return cutTornTail(input.path, { offset: cut.offset, end: cut.end, reason: cut.reason })
  }
}

/** Runs `aof recover`. */
export async function recover(path: string, options: RecoverOptions): Promise<number> {
  const input = openInput(path)
  let repair: Repair
  try {
    repair = planRepair(input, { scan: scanWithProgress })
  } finally {
    input.close()
  }
  if (repair.action === 'refuse') {
    throw repair.code === CliCode.WrongKind ? usageError(repair.reason, repair.code) : problemError(repair.reason, repair.code)
  }
  const cut: Plan | null = repair.action === 'cut' ? repair : null
  const json = options.json === true
  const report = (action: string, extra: Record<string, unknown> = {}): void => {
    if (json) {
      printJson({
        path,
        action,
        cut: cut === null ? null : { method: cut.method, offset: cut.offset, size: cut.end - cut.offset, reason: cut.reason },
        ...extra,
      })
    }
  }
  if (cut === null) {
    report('none', { reason: repair.reason })
    if (!json) await write(`${color.green('ok')}: ${path}: nothing to repair: ${repair.reason}\n`)
    return ExitCode.ok
  }
  const size = cut.end - cut.offset
  if (!json) {
    await write(`${path}: ${input.container} holding ${input.content === Content.Empty ? 'no readable data' : input.content}\n`)
    await write(`  damaged tail: bytes ${cut.offset}..${cut.end} (${bytesText(size)}): ${cut.reason}\n`)
    await write(`  repair: cut the data back to ${cut.offset}, keeping everything before it\n`)
  }
  if (options.dryRun === true) {
    report('dry-run')
    return ExitCode.problem
  }
  if ((statSync(path).mode & 0o200) === 0) {
    throw problemError(`'${path}' has no write permission (mode bits): chmod u+w to let recover cut it`, ErrorCode.ReadOnly)
  }
  checkUnlocked(path)
  if (options.yes !== true && !(await confirm(`Cut ${size} bytes from ${path}? [y/N] `))) {
    report('declined')
    throw problemError('not confirmed: nothing was changed (pass --yes to skip the question)', CliCode.Declined)
  }
  let backup: string | null = null
  if (options.backup !== false) {
    backup = typeof options.backup === 'string' ? options.backup : backupPath(path, cut.offset)
    if (typeof options.backup === 'string' && existsSync(backup)) throw usageError(`backup file '${backup}' already exists`)
    // The bytes to cut, straight from the file (data offsets are file offsets in both kinds).
    const bytes = readFileRange(path, cut.offset, cut.end)
    try {
      writeFileSync(backup, bytes, { flag: 'wx' })
    } catch (error) {
      throw fromSystemError(error, backup, 'create')
    }
  }
  const cutBytes = await apply(input, cut)
  report('cut', { cutBytes, backup })
  if (!json) {
    await write(`${color.green('recovered')}: cut ${bytesText(cutBytes)} at offset ${cut.offset}`)
    await write(backup === null ? ' (no backup kept)\n' : `; the bytes cut are in ${backup}\n`)
  }
  return ExitCode.ok
}

/** Registers `aof recover`. */
export function register(program: Command, done: (code: number) => void): void {
  program
    .command('recover')
    .description('repair a torn or corrupt tail (after asking), keeping a backup of what is cut')
    .argument('<file>', 'an append-only file, a record log or a state log that no writer holds')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--backup <path>', 'where to keep the bytes cut (default: FILE.cut-OFFSET)')
    .option('--no-backup', 'keep no copy of the bytes cut')
    .option('-n, --dry-run', 'only say what would be cut (exit 1 if anything)')
    .option('--json', 'print one JSON object instead of text')
    .addHelpText(
      'after',
      '\nExit codes: 0 repaired or nothing to repair, 1 refused (a live writer, damage before the tail, not confirmed)\n' +
        'or --dry-run found a tail to cut, 2 usage error.',
    )
    .action(async (file: string, options: RecoverOptions) => {
      done(await recover(file, options))
    })
}
