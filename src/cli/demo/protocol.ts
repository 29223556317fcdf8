/**
 * How the demo's processes talk: the children write one line per message on stdout, the parent
 * writes to their stdin ("go" to the writer) and closes it to stop them.
 *
 *   writer   → parent: "ready <pid>", then "ack <seq>" each time updates up to seq are durable
 *   follower → parent: one JSON {@link FollowerReport} per line
 * @module
 */
import type { Readable } from 'node:stream'

import { writeStdoutSync } from '../output.ts'

/** What the follower reports, periodically and once at its end. */
export interface FollowerReport {
  /** 'ready' once it follows, 'progress' while it runs, 'end' once it stopped. */
  kind: 'ready' | 'progress' | 'end'
  /** Updates observed so far. */
  updates: number
  /** Snapshots observed so far. */
  snapshots: number
  /** The highest update sequence number observed (0: none). */
  lastSeq: number
  /** Updates skipped or seen out of order (0 when the follower saw 1, 2, 3... in order). */
  missed: number
  /** Write-to-observe latency of the updates observed since the last report, in ns. */
  recent: LatencySummary
  /** Write-to-observe latency of every update observed, in ns. */
  total: LatencySummary
  /** True when following failed (an error other than the writer's death or a stop). */
  failed: boolean
  /** Why it ended ('end' only). */
  reason?: string
}

/** Latency percentiles in nanoseconds (0 when nothing was measured). */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
}

/** Writes `line` and a newline to stdout synchronously (the writer may be killed at any instant). */
export function sendLine(line: string): void {
  writeStdoutSync(`${line}\n`)
}

/** Calls `onLine` with every complete line `stream` produces. */
export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line !== '') onLine(line)
  })
}
