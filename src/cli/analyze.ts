/**
 * The full check behind `aof inspect` and `aof verify`: the append-only file's tail, every
 * record of a log with its checksum, the state log's entries and epochs, and the checkpoints
 * in raw data. Reads only.
 * @module
 */
import { MAGIC_CHECKPOINT, MAGIC_SIZE, magicBytes } from '../aof/magic.ts'
import { encodedSize } from '../log/format.ts'
import { findEntries, scanLog } from '../log/scan.ts'
import type { DamagedRange, LogScan } from '../log/scan.ts'
import { EntryType, decodeStateEntry } from '../state/entry.ts'
import { restore } from '../state/restore.ts'
import { Container, Content, Life, recoveryName } from './input.ts'
import type { Input } from './input.ts'

/** A damaged range, with what a salvage search found inside it. */
export interface Damage extends DamagedRange {
  /** Where: the append-only file's tail, the record log, or the state entries. */
  layer: 'file' | 'log' | 'state'
  /** Offsets of complete entries inside the range (only with `thorough`). */
  salvageable?: number[]
}

/** The state log's summary. */
export interface StateSummary {
  /** Snapshots in the log: each opens an epoch. */
  snapshots: number
  /** Updates in the whole log. */
  updatesTotal: number
  /** The epochs (snapshot offsets), at most the last 100. */
  epochs: number[]
  /** What restore gives: the current epoch, its snapshot's size and its updates. */
  restored: { epoch: number; snapshotSize: number | null; updates: number; updateBytes: number } | null
  /** Why restore failed, when it did. */
  restoreError: string | null
}

/** Everything the check found. */
export interface Analysis {
  damage: Damage[]
  log: LogScan | null
  state: StateSummary | null
  /** MagicCheckpoints found in raw data (count, and the first 100 offsets). */
  checkpoints: { count: number; offsets: number[] } | null
}

/** Options of {@link analyze}. */
export interface AnalyzeOptions {
  /** Search damaged ranges for complete entries that the reader's resync skips. */
  thorough?: boolean
  /** Progress in bytes of data. */
  onProgress?: (done: number) => void
}

/** The damage at the append-only file level: a tail that recovery (or the next writer) cuts. */
export function fileDamage(input: Input): Damage | null {
  if (input.recovery === null) return null
  if (input.life === Life.Damaged) {
    return {
      layer: 'file',
      begin: input.dataSize,
      end: input.usedSize,
      code: 'ERR_AOF_CORRUPTED',
      reason: `no magic number ends the data (recovery: ${recoveryName(input.recovery.outcome)}, ${
        input.recovery.checkpoint >= 0 ? `last checkpoint at ${input.recovery.checkpoint}` : 'no checkpoint'
      })${input.wholeLogEnd === null ? '' : `; the log in it reads whole up to ${input.wholeLogEnd}`}`,
    }
  }
  if (input.life === Life.WriterDied && input.usedSize > input.dataSize + MAGIC_SIZE) {
    return {
      layer: 'file',
      begin: input.dataSize,
      end: input.usedSize,
      code: 'ERR_AOF_TORN_WRITE',
      reason: 'the write in flight when the writer died (after its committed size); the next open cuts it',
    }
  }
  return null
}

function countCheckpoints(input: Input, onProgress?: (done: number) => void): { count: number; offsets: number[] } {
  const needle = Buffer.from(magicBytes(MAGIC_CHECKPOINT))
  const chunkSize = 1 << 20
  const offsets: number[] = []
  let count = 0
  for (let begin = 0; begin < input.dataSize; begin += chunkSize) {
    // Overlap by 7 bytes: a magic number across two chunks is found (only) in the second.
    const start = Math.max(0, begin - (MAGIC_SIZE - 1))
    const chunk = Buffer.from(input.read(start, Math.min(input.dataSize, begin + chunkSize)))
    for (let at = chunk.indexOf(needle); at >= 0; at = chunk.indexOf(needle, at + 1)) {
      count++
      if (offsets.length < 100) offsets.push(start + at)
    }
    onProgress?.(begin + chunkSize)
  }
  return { count, offsets }
}

/** Runs every check that applies to `input`. */
export function analyze(input: Input, options: AnalyzeOptions = {}): Analysis {
  const damage: Damage[] = []
  const file = fileDamage(input)
  if (file !== null) damage.push(file)
  if (input.content === Content.Raw || input.content === Content.Empty) {
    const checkpoints = input.container === Container.AppendOnly ? countCheckpoints(input, options.onProgress) : null
    return { damage, log: null, state: null, checkpoints }
  }
  const source = input.source()
  const isState = input.content === Content.StateLog
  const stateDamage: Damage[] = []
  let snapshots = 0
  let updatesTotal = 0
  const epochs: number[] = []
  let epoch = 0
  const onEntry = isState
    ? (offset: number, data: Uint8Array): void => {
        const end = offset + encodedSize(offset, data.length)
        const entry = decodeStateEntry(data)
        const problem = (reason: string): void => {
          stateDamage.push({ layer: 'state', begin: offset, end, code: 'ERR_STATE_CORRUPT', reason })
        }
        if (entry === null) return problem(`malformed state entry at offset ${offset} (${data.length} bytes, type ${data[0] ?? '-'})`)
        if (entry.type === EntryType.Snapshot) {
          if (entry.epoch !== epoch) problem(`the snapshot at offset ${offset} follows epoch ${entry.epoch}, expected ${epoch}`)
          snapshots++
          epoch = offset
          epochs.push(offset)
          if (epochs.length > 100) epochs.shift()
        } else {
          updatesTotal++
          if (entry.epoch !== epoch) problem(`the update at offset ${offset} is of epoch ${entry.epoch}, expected ${epoch}`)
        }
      }
    : undefined
  const scan = scanLog(source, {
    ...(onEntry === undefined ? {} : { onEntry }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  })
  for (const range of scan.damaged) {
    const entry: Damage = { layer: 'log', ...range }
    if (options.thorough === true) entry.salvageable = findEntries(source, range.begin, range.end)
    damage.push(entry)
  }
  damage.push(...stateDamage)
  damage.sort((a, b) => a.begin - b.begin)
  let state: StateSummary | null = null
  if (isState) {
    state = { snapshots, updatesTotal, epochs, restored: null, restoreError: null }
    try {
      const restored = restore(source)
      let updates = 0
      let updateBytes = 0
      for (const update of restored.updates) {
        updates++
        updateBytes += update.length
      }
      state.restored = {
        epoch: restored.epoch,
        snapshotSize: restored.state === null ? null : restored.state.length,
        updates,
        updateBytes,
      }
    } catch (error) {
      state.restoreError = `${(error as { code?: string }).code ?? 'Error'}: ${(error as Error).message}`
    }
  }
  return { damage, log: scan, state, checkpoints: null }
}
