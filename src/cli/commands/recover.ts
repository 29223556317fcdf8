/**
 * `aof recover FILE`: repairs a torn or corrupt tail, after asking (or `--yes`), keeping a
 * backup of the bytes it cuts unless told not to. It refuses a file a writer holds, and damage
 * that is not at the tail (cutting there would lose good entries after it).
 *
 * The repair itself is the library's: an append-only file is opened for writing with
 * `recovery: { repair: true }` (the sidecar's committed size, else the last checkpoint), a
 * state log with `StateWriter.open` (its torn-tail cut); only a plain record log, for which the
 * library has no writer-side recovery, is truncated here, at the end of its last good entry.
 * @module
 */
import { closeSync, constants as fsConstants, existsSync, fdatasyncSync, ftruncateSync, openSync, statSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

import type { Command } from 'commander'

import { MAGIC_SIZE } from '../../aof/magic.ts'
import { Manager } from '../../aof/manager.ts'
import { RecoveryKind, recoverWithMagic } from '../../aof/recovery.ts'
import type { RecoveryFunction } from '../../aof/recovery.ts'
import { AofkitError, ErrorCode, fromSystemError, isAofkitError } from '../../errors.ts'
import { findEntry, isLogError, scanLog } from '../../log/scan.ts'
import type { LogScan } from '../../log/scan.ts'
import { FileSource } from '../../log/sources.ts'
import type { LogSource } from '../../log/sources.ts'
import * as native from '../../native/binding.ts'
import { recoverForWriting } from '../../state/recover.ts'
import { StateWriter } from '../../state/state-writer.ts'
import { fileDamage } from '../analyze.ts'
import { Container, Content, Life, openInput, readRange } from '../input.ts'
import type { Input } from '../input.ts'
import { CliCode, ExitCode, bytesText, color, printJson, problemError, progressBar, streams, usageError, write, writeError } from '../output.ts'

interface RecoverOptions {
  yes?: boolean
  backup: string | boolean
  dryRun?: boolean
  json?: boolean
}

/** What recover will cut. */
interface Plan {
  /** How the cut is made. */
  method: 'append-only file' | 'state log' | 'record log'
  /** The data is cut back to this offset. */
  offset: number
  /** The end of the bytes cut (the last non-zero byte's end for an append-only file). */
  end: number
  reason: string
}

/** The record log's damage, or a malformed state entry: what a scan reports instead of failing. */
function isDamage(error: unknown): error is AofkitError {
  return isLogError(error) || isAofkitError(error, ErrorCode.StateCorrupt)
}

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
function scanWithProgress(source: LogSource): LogScan {
  const bar = progressBar('recover: reading', source.size, { minimum: 1 << 20 })
  try {
    return scanLog(source, { onProgress: (done) => bar.update(done) })
  } finally {
    bar.stop()
  }
}

/** Decides what to cut, reading only. Null: nothing to repair. */
function plan(input: Input): Plan | null {
  if (input.container === Container.AppendOnly) {
    if (input.life === Life.Live) {
      throw problemError(`a writer (pid ${input.sidecar?.writerPid ?? '?'}) has '${input.path}' open: recover never touches a live file`, ErrorCode.Locked)
    }
    const damage = fileDamage(input)
    if (damage !== null) {
      const cut: Plan = { method: 'append-only file', offset: damage.begin, end: damage.end, reason: damage.reason }
      if (input.life === Life.Damaged) {
        // Magic numbers alone cut back to the last checkpoint, or to nothing. If the bytes
        // hold a log, keep every entry that reads whole before the damage.
        const scan = scanWithProgress(new FileSource(input.fd, { size: input.usedSize, path: input.path }))
        if (scan.entries > 0 && scan.goodEnd > cut.offset && scan.goodEnd <= cut.end) {
          cut.offset = scan.goodEnd
          cut.reason += `; the log in it reads whole up to ${scan.goodEnd}`
        }
      }
      return cut
    }
    if (input.content === Content.RecordLog || input.content === Content.StateLog) {
      const scan = scanWithProgress(input.source())
      const first = scan.damaged[0]
      if (first !== undefined) {
        throw problemError(
          `the ${input.content} inside '${input.path}' is damaged at bytes ${first.begin}..${first.end} (${first.reason}); ` +
            'an append-only file’s entries land whole, so this is not a torn tail and recover does not cut it (see aof verify)',
          CliCode.Damaged,
        )
      }
    }
    return null
  }
  if (input.content === Content.StateLog) {
    let recovered
    try {
      recovered = recoverForWriting(input.source())
    } catch (error) {
      if (!isDamage(error)) throw error
      throw problemError(`the state log '${input.path}' is damaged before its tail (${error.message}); recover only cuts a torn tail`, error.code)
    }
    if (recovered.cut === null) return null
    return { method: 'state log', offset: recovered.cut.offset, end: recovered.cut.offset + recovered.cut.size, reason: recovered.cut.reason }
  }
  if (input.content === Content.RecordLog) {
    const source = input.source()
    const scan = scanWithProgress(source)
    const last = scan.damaged.at(-1)
    if (last === undefined) return null
    const early = scan.damaged.find((range) => range.end < input.dataSize)
    const entryInTail = last.end === input.dataSize && findEntry(source, last.begin, last.end) !== null
    if (early !== undefined || entryInTail) {
      const range = early ?? last
      throw problemError(
        `the record log '${input.path}' is damaged before its tail (bytes ${range.begin}..${range.end}: ${range.reason}); ` +
          'complete entries follow the damage, so recover does not cut it (see aof verify --thorough)',
        CliCode.Damaged,
      )
    }
    return { method: 'record log', offset: last.begin, end: input.dataSize, reason: last.reason }
  }
  if (input.content === Content.Empty) return null
  throw usageError(`'${input.path}' is a plain file of raw bytes, not an append-only file or a log: nothing to recover`, CliCode.WrongKind)
}

/** Throws ERR_AOF_LOCKED (exit 1) if a writer holds the file's lock. Takes and drops it. */
function checkUnlocked(path: string): void {
  const fd = openSync(path, 'r')
  try {
    native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
    native.flock(fd, native.lock.unlock)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
      throw problemError(`'${path}' is locked by a writer: recover never touches a file a writer holds`, ErrorCode.Locked)
    }
    throw fromSystemError(error, path, 'lock')
  } finally {
    closeSync(fd)
  }
}

/** Asks on stderr, reads one line from stdin; false when stdin ends first. */
async function confirm(question: string): Promise<boolean> {
  const lines = createInterface({ input: streams().stdin, terminal: false })
  writeError(question)
  const answer = await new Promise<string | null>((resolve) => {
    lines.once('line', resolve)
    lines.once('close', () => resolve(null))
  })
  lines.close()
  // A terminal echoed the answer and its newline; a pipe did not.
  if (answer === null || streams().stdin.isTTY !== true) writeError('\n')
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer)
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
    case 'record log': {
      let fd: number
      try {
        fd = openSync(input.path, fsConstants.O_RDWR)
      } catch (error) {
        throw fromSystemError(error, input.path, 'openForWrite')
      }
      try {
        native.flock(fd, native.lock.exclusive | native.lock.nonBlocking)
        ftruncateSync(fd, cut.offset)
        fdatasyncSync(fd)
      } catch (error) {
        if (error instanceof AofkitError) throw error
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EWOULDBLOCK' || code === 'EAGAIN') throw problemError(`'${input.path}' is locked by a writer`, ErrorCode.Locked)
        throw fromSystemError(error, input.path, 'truncate')
      } finally {
        closeSync(fd)
      }
      return cut.end - cut.offset
    }
  }
}

/** Runs `aof recover`. */
export async function recover(path: string, options: RecoverOptions): Promise<number> {
  const input = openInput(path)
  let cut: Plan | null
  try {
    cut = plan(input)
  } finally {
    input.close()
  }
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
    report('none')
    if (!json) await write(`${color.green('ok')}: ${path}: nothing to repair\n`)
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
