/**
 * The ledger's storage: a state log kept in an AppendOnlyFile, opened the way an application
 * restarting after a crash opens it (the writer child does the same on start).
 * @module
 */
import type { AppendOnlyFile } from '../../aof/append-only-file.ts'
import { defaultManager } from '../../aof/manager.ts'
import type { Manager } from '../../aof/manager.ts'
import { recoveryName } from '../input.ts'
import type { TailCut } from '../../state/recover.ts'
import { StateWriter } from '../../state/state-writer.ts'
import { applyLedger, decodeLedger, initialLedger } from './ledger.ts'
import type { LedgerState, LedgerUpdate } from './ledger.ts'

/** Room for a minute of updates at full speed; the file grows in steps as it fills. */
const GEOMETRY = { sizeUpper: 2 * 1024 * 1024 * 1024, growthStep: 16 * 1024 * 1024 }

const SOURCES = { magic: 'the magic numbers', sidecar: 'the -shm sidecar', synced: "the -shm sidecar's last sync", repair: 'a repair' } as const

/** What opening the ledger restored and repaired. */
export interface OpenedLedger {
  /** The open append-only file (close it after the writer). */
  file: AppendOnlyFile
  /** A writer appending after the restored entries, `sync: 'always'`. */
  writer: StateWriter
  /** The restored state: the latest snapshot with the epoch's updates replayed. */
  state: LedgerState
  /** Updates replayed on top of the snapshot. */
  replayed: number
  /** Bytes the append-only file's recovery cut after the committed data (a torn write). */
  cutBytes: number
  /** How the append-only file's recovery found its end. */
  recovery: string
  /** A torn state entry the state log cut, or null (entries land whole in an AppendOnlyFile). */
  cut: TailCut | null
  /** Size of the log after recovery, in bytes. */
  size: number
}

/**
 * Opens (creating if needed) the ledger at `path`: the append-only file's recovery finds the
 * committed data, the state writer restores the latest snapshot, and the epoch's updates are
 * replayed through {@link applyLedger}.
 * @param path - The ledger's file.
 * @param manager - The manager to open it with (the writer's publishes its statistics).
 * @throws {@link AofkitError} what {@link AppendOnlyFile.open} and {@link StateWriter.open} throw.
 */
export async function openLedger(path: string, manager: Manager = defaultManager()): Promise<OpenedLedger> {
  const file = manager.open(path, { create: true, geometry: GEOMETRY })
  let writer: StateWriter | null = null
  try {
    writer = await StateWriter.open(file, { sync: 'always' })
    const { state: snapshot, updates } = writer.restored
    const state = snapshot === null ? initialLedger() : decodeLedger<LedgerState>(snapshot)
    let replayed = 0
    for (const update of updates) {
      applyLedger(state, decodeLedger<LedgerUpdate>(update))
      replayed++
    }
    const outcome = recoveryName(file.recovery.outcome)
    return {
      file,
      writer,
      state,
      replayed,
      cutBytes: file.recovery.cutBytes,
      recovery: `file recovery: ${outcome}, its end from ${SOURCES[file.recovery.source]}`,
      cut: writer.cut,
      size: file.size,
    }
  } catch (error) {
    writer?.restored.updates.close()
    await writer?.close().catch(() => undefined)
    await file.close()
    throw error
  }
}

/** Where the demo's writer publishes its Manager statistics: `<dir>/<name>.stats.json`. */
export function statsPath(ledgerPath: string): string {
  return `${ledgerPath.replace(/\.aof$/, '')}.stats.json`
}
