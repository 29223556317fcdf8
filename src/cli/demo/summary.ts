/**
 * The demo's summary: what it measured and found, as a table for people or JSON for scripts,
 * and the live progress line.
 * @module
 */
import { color, keyValues } from '../output.ts'
import type { CheckResult } from './check.ts'
import type { LatencySummary } from './protocol.ts'

/** Everything the demo reports at its end. */
export interface DemoSummary {
  /** The state log's path. */
  path: string
  /** Seconds the writer ran before it was killed. */
  seconds: number
  /** Updates the writer kept in flight. */
  inFlight: number
  /** The writer's snapshot interval, in updates. */
  snapshotEvery: number
  /** The highest update sequence the writer acknowledged as durable. */
  acknowledged: number
  /** Acknowledged updates per second of the run. */
  durablePerSecond: number
  /** The highest update sequence in the restored ledger. */
  restored: number
  /** Updates replayed on top of the restored snapshot. */
  replayed: number
  /** Acknowledged updates missing after recovery. */
  lost: number
  /** What the follower saw. */
  follower: {
    updates: number
    snapshots: number
    lastSeq: number
    /** Updates it skipped or saw out of order. */
    missed: number
    latency: LatencySummary
    ended: string
  }
  /** Recovery: its time (ms), how the file's end was found, bytes cut after it, log size. */
  recovery: { ms: number; how: string; cutBytes: number; stateCut: number; size: number }
  /** The verdict. */
  check: CheckResult
}

/**
 * The summary `aof demo --json` prints: every field that holds a quantity names its unit
 * (`…Ns`, `…Ms`, `…Bytes`, `seconds`, `…PerSecond`).
 */
export interface DemoJson {
  path: string
  seconds: number
  inFlight: number
  snapshotEvery: number
  acknowledged: number
  durablePerSecond: number
  restored: number
  replayed: number
  lost: number
  follower: {
    updates: number
    snapshots: number
    lastSeq: number
    missed: number
    /** Write-to-observe latency of every update the follower saw, in nanoseconds. */
    latency: { count: number; p50Ns: number; p99Ns: number; maxNs: number }
    ended: string
  }
  recovery: { durationMs: number; how: string; cutBytes: number; stateCutBytes: number; sizeBytes: number }
  check: CheckResult
}

/** The JSON form of `summary`, with units in the field names. */
export function summaryJson(summary: DemoSummary): DemoJson {
  const { follower, recovery } = summary
  return {
    path: summary.path,
    seconds: summary.seconds,
    inFlight: summary.inFlight,
    snapshotEvery: summary.snapshotEvery,
    acknowledged: summary.acknowledged,
    durablePerSecond: summary.durablePerSecond,
    restored: summary.restored,
    replayed: summary.replayed,
    lost: summary.lost,
    follower: {
      updates: follower.updates,
      snapshots: follower.snapshots,
      lastSeq: follower.lastSeq,
      missed: follower.missed,
      latency: { count: follower.latency.count, p50Ns: follower.latency.p50, p99Ns: follower.latency.p99, maxNs: follower.latency.max },
      ended: follower.ended,
    },
    recovery: { durationMs: recovery.ms, how: recovery.how, cutBytes: recovery.cutBytes, stateCutBytes: recovery.stateCut, sizeBytes: recovery.size },
    check: summary.check,
  }
}

const numberFormat = new Intl.NumberFormat('en-US')

/** An integer with thousands separators. */
export function count(value: number): string {
  return numberFormat.format(Math.round(value))
}

/** A duration in nanoseconds, in the unit that reads best. */
export function duration(ns: number): string {
  if (ns < 1e3) return `${Math.round(ns)} ns`
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 1 : 0)} µs`
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`
  return `${(ns / 1e9).toFixed(2)} s`
}

/** The summary as aligned rows of name and value (coloured on a terminal). */
export function summaryTable(summary: DemoSummary): string {
  const { follower, recovery, check } = summary
  const latency = follower.latency
  const rows: [string, string][] = [
    ['writer', `${summary.seconds.toFixed(1)} s, sync 'always', ${summary.inFlight} updates in flight, a snapshot every ${count(summary.snapshotEvery)}`],
    ['updates acknowledged', count(summary.acknowledged)],
    ['updates restored', `${count(summary.restored)} (latest snapshot + ${count(summary.replayed)} replayed)`],
    ['acknowledged updates lost', count(summary.lost)],
    ['restored, not acknowledged', `${count(Math.max(0, summary.restored - summary.acknowledged))} (in flight at the kill)`],
    ['durable updates/s', count(summary.durablePerSecond)],
    ['follower saw', `${count(follower.updates)} updates, ${count(follower.snapshots)} snapshots, up to #${count(follower.lastSeq)}`],
    ['follower latency', `p50 ${duration(latency.p50)}, p99 ${duration(latency.p99)}, max ${duration(latency.max)} (write to observe)`],
    ['follower ended', follower.ended],
    ['recovery time', `${recovery.ms.toFixed(1)} ms (${recovery.how})`],
    ['tail cut', `${count(recovery.cutBytes)} bytes of the file, ${count(recovery.stateCut)} bytes of the state log`],
    ['log size', `${count(recovery.size)} bytes`],
    ['check', check.ok ? `${color.green('PASS')}: every acknowledged update restored, balances consistent` : color.red('FAIL')],
  ]
  for (const problem of check.problems) rows.push(['', color.red(problem)])
  return keyValues(rows)
}

/** The live line: time, acknowledged updates and rate, what the follower saw and its latency. */
export function progressLine(elapsedMs: number, acknowledged: number, follower: { updates: number; lastSeq: number; recent: LatencySummary } | null): string {
  const seconds = elapsedMs / 1000
  const rate = seconds > 0 ? acknowledged / seconds : 0
  let line = `  ${seconds.toFixed(1).padStart(4)} s  acknowledged ${count(acknowledged).padStart(9)} (${count(rate)}/s)`
  if (follower !== null) {
    line += `  follower at #${count(follower.lastSeq)}`
    if (follower.recent.count > 0) line += `, latency p50 ${duration(follower.recent.p50)} p99 ${duration(follower.recent.p99)}`
  }
  return line
}
