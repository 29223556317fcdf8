/**
 * What a repair of the file would do: nothing, cut a torn tail, or refuse. One judgement, which
 * `aof recover` acts on and `aof inspect` reports, so the two always agree. Reads only.
 *
 * The policy is the library's: an append-only file is cut where its open with
 * `recovery: { repair: true }` cuts (the sidecar's committed size, else the last checkpoint,
 * else the end of the last log entry that reads whole), a state log where `StateWriter.open`
 * cuts its torn tail, a plain record log where `findTornTail` says.
 * @module
 */
import { ErrorCode, isAofkitError } from '../errors.ts'
import { isLogError } from '../log/scan.ts'
import type { LogScan } from '../log/scan.ts'
import { findTornTail } from '../log/torn-tail.ts'
import { recoverForWriting } from '../state/recover.ts'
import { fileDamage } from './analyze.ts'
import { Container, Content, Life } from './input.ts'
import type { Input } from './input.ts'
import { CliCode } from './output.ts'

/** How a cut is made. */
export type CutMethod = 'append-only file' | 'state log' | 'record log'

/** What a repair of the file would do. */
export type Repair =
  | { action: 'none'; reason: string }
  | { action: 'cut'; method: CutMethod; offset: number; end: number; reason: string }
  | { action: 'refuse'; code: string; reason: string }

/** Options of {@link planRepair}. */
export interface PlanOptions {
  /** Reads the whole log (with a progress bar, say); default: `scanLog`. */
  scan?: (input: Input) => LogScan
}

/**
 * Decides what a repair of `input` would do, reading only.
 * @throws {@link AofkitError} system codes when the file cannot be read.
 */
export function planRepair(input: Input, options: PlanOptions = {}): Repair {
  const scanOf = (): LogScan | undefined => options.scan?.(input)
  if (input.container === Container.AppendOnly) {
    if (input.life === Life.Live) {
      return {
        action: 'refuse',
        code: ErrorCode.Locked,
        reason: `a writer (pid ${input.sidecar?.writerPid ?? '?'}) has '${input.path}' open: recover never touches a live file`,
      }
    }
    const damage = fileDamage(input)
    if (damage !== null) return { action: 'cut', method: 'append-only file', offset: damage.begin, end: damage.end, reason: damage.reason }
    if (input.content === Content.RecordLog || input.content === Content.StateLog) {
      const tail = findTornTail(input.source(), scanOf())
      if (tail.kind !== 'whole') {
        const range = tail.kind === 'damaged' ? tail.range : { begin: tail.tail.offset, end: tail.tail.end, reason: tail.tail.reason }
        return {
          action: 'refuse',
          code: CliCode.Damaged,
          reason:
            `the ${input.content} inside '${input.path}' is damaged at bytes ${range.begin}..${range.end} (${range.reason}); ` +
            'an append-only file’s entries land whole, so this is not a torn tail and recover does not cut it (see aof verify)',
        }
      }
    }
    if (input.life === Life.WriterDied) {
      return {
        action: 'none',
        reason:
          `its writer (pid ${input.sidecar?.writerPid ?? '?'}) died with every write committed: ` +
          `the next open keeps the data up to the sidecar's committed size ${input.dataSize}, and there is nothing after it to cut`,
      }
    }
    return { action: 'none', reason: input.content === Content.Empty ? 'it holds no data' : 'its data is whole' }
  }
  if (input.content === Content.StateLog) {
    let recovered
    try {
      recovered = recoverForWriting(input.source())
    } catch (error) {
      if (!isLogError(error) && !isAofkitError(error, ErrorCode.StateCorrupt)) throw error
      return {
        action: 'refuse',
        code: error.code,
        reason: `the state log '${input.path}' is damaged before its tail (${error.message}); recover only cuts a torn tail`,
      }
    }
    if (recovered.cut === null) return { action: 'none', reason: 'the state log is whole' }
    return { action: 'cut', method: 'state log', offset: recovered.cut.offset, end: recovered.cut.offset + recovered.cut.size, reason: recovered.cut.reason }
  }
  if (input.content === Content.RecordLog) {
    const tail = findTornTail(input.source(), scanOf())
    if (tail.kind === 'whole') return { action: 'none', reason: 'the record log is whole' }
    if (tail.kind === 'damaged') {
      const { range, notTorn } = tail
      const why =
        notTorn === undefined
          ? `is damaged before its tail (bytes ${range.begin}..${range.end}: ${range.reason}); complete entries follow the damage`
          : `ends in bytes ${range.begin}..${range.end} that a torn write cannot leave (${notTorn})`
      return {
        action: 'refuse',
        code: CliCode.Damaged,
        reason: `the record log '${input.path}' ${why}, so recover does not cut it (see aof verify --thorough)`,
      }
    }
    return { action: 'cut', method: 'record log', offset: tail.tail.offset, end: tail.tail.end, reason: tail.tail.reason }
  }
  if (input.content === Content.Empty) return { action: 'none', reason: 'it holds no data' }
  return {
    action: 'refuse',
    code: CliCode.WrongKind,
    reason: `'${input.path}' is a plain file of raw bytes, not an append-only file or a log: nothing to recover`,
  }
}
