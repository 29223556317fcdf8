/**
 * The demo's follower process (`aof demo-follower <file>`): follows the ledger's state log
 * live from another process and measures, for each update, the time from the writer making it
 * to the follower seeing it (both read `process.hrtime.bigint()`, one monotonic clock for the
 * whole machine on Linux).
 * @module
 */
import { AppendOnlyFile } from '../../aof/append-only-file.ts'
import { ErrorCode, isAofkitError } from '../../errors.ts'
import { tailLog } from '../../log/tail-log.ts'
import { EntryType, decodeStateEntry } from '../../state/entry.ts'
import { LatencyHistogram } from './latency.ts'
import { decodeLedger } from './ledger.ts'
import type { LedgerState, LedgerUpdate } from './ledger.ts'
import type { FollowerReport } from './protocol.ts'
import { sendLine } from './protocol.ts'

/** How often the follower reports, in ms. */
export const REPORT_INTERVAL_MS = 250

/**
 * Runs the follower: reports "ready", then a {@link FollowerReport} every
 * {@link REPORT_INTERVAL_MS}, and a last one when it ends: when the writer dies (the reader
 * notices its pid is gone: the normal end of the demo), when the file is finished, or when
 * its stdin closes (the parent stops it).
 * @returns 0, or 1 when following failed for another reason (the report says why).
 */
export async function demoFollower(path: string): Promise<number> {
  const reader = AppendOnlyFile.openReader(path)
  const stop = new AbortController()
  process.stdin.resume()
  process.stdin.once('end', () => stop.abort())
  const recent = new LatencyHistogram()
  const total = new LatencyHistogram()
  let updates = 0
  let snapshots = 0
  let lastSeq = 0
  let missed = 0
  let failed = false
  const report = (kind: FollowerReport['kind'], reason?: string): void => {
    const message: FollowerReport = {
      kind,
      updates,
      snapshots,
      lastSeq,
      missed,
      failed,
      recent: recent.summary(),
      total: total.summary(),
    }
    if (reason !== undefined) message.reason = reason
    sendLine(JSON.stringify(message))
    recent.reset()
  }
  report('ready')
  const timer = setInterval(() => report('progress'), REPORT_INTERVAL_MS)
  let reason = 'the file was finished'
  let exitCode = 0
  try {
    // Committed entries are whole: any damaged record fails the follower, and so the check.
    for await (const { data } of tailLog(reader, { signal: stop.signal })) {
      const observed = process.hrtime.bigint()
      const entry = decodeStateEntry(data)
      if (entry === null) throw new Error('a malformed state entry')
      if (entry.type === EntryType.Snapshot) {
        snapshots++
        // A snapshot holds every update before it: one past lastSeq means updates were missed.
        const seq = decodeLedger<LedgerState>(entry.payload).seq
        if (seq > lastSeq) missed += seq - lastSeq
        lastSeq = Math.max(lastSeq, seq)
        continue
      }
      const update = decodeLedger<LedgerUpdate>(entry.payload)
      const latency = Number(observed - BigInt(update.at))
      recent.record(latency)
      total.record(latency)
      updates++
      // The follower starts at the log's first entry, so it must see 1, 2, 3... in order.
      if (update.seq !== lastSeq + 1) missed += Math.max(1, update.seq - lastSeq - 1)
      lastSeq = update.seq
    }
  } catch (error) {
    if (isAofkitError(error, ErrorCode.WriterDied)) reason = 'the writer died'
    else if (stop.signal.aborted) reason = 'stopped'
    else {
      reason = isAofkitError(error) ? `${error.code}: ${error.message}` : String(error)
      failed = true
      exitCode = 1
    }
  } finally {
    clearInterval(timer)
    reader.close()
  }
  report('end', reason)
  process.stdin.pause()
  return exitCode
}
