/**
 * The demo's writer process (`aof demo-writer <file>`): keeps the ledger in a state log with
 * `sync: 'always'`, many updates in flight at once so that they share fdatasyncs (group
 * commit), a snapshot every {@link SNAPSHOT_EVERY} updates, until it is killed.
 * @module
 */
import { once } from 'node:events'

import { ledgerOperation, applyLedger, encodeLedger } from './ledger.ts'
import type { LedgerUpdate } from './ledger.ts'
import { onLines, sendLine } from './protocol.ts'
import { openLedger, statsPath } from './store.ts'
import { Manager } from '../../aof/manager.ts'

/** Updates in flight at once: enough that each fdatasync carries a large group. */
export const IN_FLIGHT = 256

/** A snapshot after this many updates: restores replay at most this many. */
export const SNAPSHOT_EVERY = 20_000

/** Past this log size the writer stops adding updates and waits to be killed (60 s at full speed fit). */
const SIZE_LIMIT = 1536 * 1024 * 1024

/** The writer never outlives this, whatever happens to its parent. */
const LIFETIME_MS = 120_000

/**
 * Runs the writer: opens (restoring) the ledger at `path`, says "ready <pid>", waits for "go"
 * on stdin, then updates until killed, saying "ack <seq>" as updates become durable. It exits
 * when its stdin closes (the parent is gone).
 * @returns Never, unless the parent goes away (then 0) or the log fails (then it throws).
 */
export async function demoWriter(path: string): Promise<number> {
  // Its statistics, published next to the ledger for `aof stats <dir>` while the demo runs.
  const manager = new Manager({ statsFile: statsPath(path), statsIntervalMs: 250 })
  const ledger = await openLedger(path, manager)
  const { writer, state } = ledger
  let go = false
  const started = new Promise<void>((resolve) => {
    onLines(process.stdin, (line) => {
      if (line === 'go') {
        go = true
        resolve()
      }
    })
  })
  let stopped = false
  process.stdin.once('end', () => {
    stopped = true
  })
  const lifetime = setTimeout(() => (stopped = true), LIFETIME_MS)
  lifetime.unref()
  sendLine(`ready ${process.pid}`)
  await Promise.race([started, once(process.stdin, 'end')])

  let acknowledged = state.seq
  let ackScheduled = false
  const acknowledge = (seq: number): void => {
    if (seq > acknowledged) acknowledged = seq
    // One line per group commit, not per update: resolutions of one fdatasync arrive together.
    if (!ackScheduled) {
      ackScheduled = true
      setImmediate(() => {
        ackScheduled = false
        sendLine(`ack ${acknowledged}`)
      })
    }
  }
  let sinceSnapshot = 0
  const updateOnce = async (): Promise<void> => {
    const seq = state.seq + 1
    const update: LedgerUpdate = { seq, at: process.hrtime.bigint().toString(), ...ledgerOperation(seq) }
    // As StateStore does: apply first, then log; a snapshot taken now includes this update.
    applyLedger(state, update)
    const written = writer.update(encodeLedger(update))
    let snapshotted: Promise<void> | null = null
    if (++sinceSnapshot >= SNAPSHOT_EVERY) {
      sinceSnapshot = 0
      snapshotted = writer.snapshot(encodeLedger(state))
    }
    await written
    acknowledge(seq)
    if (snapshotted !== null) await snapshotted
  }
  const lane = async (): Promise<void> => {
    while (go && !stopped && writer.size < SIZE_LIMIT) await updateOnce()
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  // Full: wait for the kill like a writer with nothing to do, unless the parent is gone.
  while (!stopped) await new Promise((resolve) => setTimeout(resolve, 100))
  await writer.close()
  await ledger.file.close()
  return 0
}
