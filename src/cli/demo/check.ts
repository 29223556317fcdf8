/**
 * The demo's verdict on a restored ledger: it must be the state after a prefix of the updates,
 * and that prefix must hold every update the writer acknowledged as durable.
 * @module
 */
import { ACCOUNTS, OPENING_BALANCE, expectedLedger } from './ledger.ts'
import type { LedgerState } from './ledger.ts'

/** What {@link checkLedger} found. */
export interface CheckResult {
  /** True when every condition holds. */
  ok: boolean
  /** Acknowledged updates missing from the restored ledger (must be 0). */
  lost: number
  /** One sentence per failed condition (empty when `ok`). */
  problems: string[]
}

/** What the follower saw, for {@link checkLedger}. */
export interface FollowerSight {
  /** The highest update sequence number it saw committed. */
  lastSeq: number
  /** Updates it skipped or saw out of order. */
  missed: number
  /** Why following failed, or null when it ended normally (writer died, stopped). */
  failure: string | null
}

/**
 * Checks a restored ledger against what the writer acknowledged and the follower saw.
 * @param restored - The ledger as recovery rebuilt it from the log.
 * @param acknowledged - The highest sequence number the writer reported durable (0: none).
 * @param follower - What a follower saw, if one ran: it must have seen every update in order
 *   and ended normally, and since a SIGKILL loses nothing committed either, the restored
 *   prefix must reach the last update it saw.
 * @returns The verdict.
 */
export function checkLedger(restored: LedgerState, acknowledged: number, follower?: FollowerSight): CheckResult {
  const problems: string[] = []
  const lost = Math.max(0, acknowledged - restored.seq)
  if (lost > 0) {
    problems.push(`${lost} acknowledged updates are missing: restored up to ${restored.seq}, acknowledged up to ${acknowledged}`)
  }
  if (follower !== undefined) {
    if (follower.lastSeq > restored.seq) {
      problems.push(`the follower saw update ${follower.lastSeq} committed, but only ${restored.seq} were restored`)
    }
    if (follower.missed > 0) problems.push(`the follower missed ${follower.missed} updates or saw them out of order`)
    if (follower.failure !== null) problems.push(`following failed: ${follower.failure}`)
  }
  if (restored.gaps !== 0) problems.push(`${restored.gaps} updates were replayed out of sequence`)
  if (restored.balances.length !== ACCOUNTS) {
    problems.push(`the ledger has ${restored.balances.length} accounts, not ${ACCOUNTS}`)
  }
  // Money is neither created nor destroyed: the balances add up to the openings plus deposits.
  const sum = restored.balances.reduce((total, balance) => total + balance, 0)
  const expected = expectedLedger(restored.seq)
  if (sum !== ACCOUNTS * OPENING_BALANCE + expected.deposited) {
    problems.push(`the balances add up to ${sum}, the updates imply ${ACCOUNTS * OPENING_BALANCE + expected.deposited}`)
  }
  // And the restored state is exactly the state after updates 1..seq, in order.
  const mismatch = expected.balances.findIndex((balance, account) => restored.balances[account] !== balance)
  if (mismatch >= 0) {
    problems.push(
      `account ${mismatch} holds ${String(restored.balances[mismatch])}, the state after update ${restored.seq} has ${String(expected.balances[mismatch])}`,
    )
  }
  if (restored.deposited !== expected.deposited || restored.declined !== expected.declined) {
    problems.push(`deposit and decline totals differ from the state after update ${restored.seq}`)
  }
  return { ok: problems.length === 0, lost, problems }
}
