/**
 * The demo's application: a small bank ledger. Update number `seq` is a deposit or a transfer
 * chosen by `seq` alone, so the check can rebuild the state after any prefix of the updates
 * without reading the log. A transfer that would overdraw its account is declined (counted,
 * not applied), which makes the state depend on the order of the updates, not just their set.
 * @module
 */

/** Number of accounts in the ledger. */
export const ACCOUNTS = 64

/** Opening balance of every account. */
export const OPENING_BALANCE = 1000

/** A deposit into one account, or a transfer between two. */
export type LedgerOperation =
  | { op: 'deposit'; to: number; amount: number }
  | { op: 'transfer'; from: number; to: number; amount: number }

/** One logged update: its sequence number (1, 2, ...), the writer's clock, and the operation. */
export type LedgerUpdate = LedgerOperation & {
  seq: number
  /** The writer's `process.hrtime.bigint()` when it made the update, in decimal. */
  at: string
}

/** The ledger's state, as snapshots hold it. */
export interface LedgerState {
  /** The last sequence number applied (0: none). */
  seq: number
  /** Updates whose sequence number was not `seq + 1` when applied (always 0 in a sound log). */
  gaps: number
  /** Balance of each account. */
  balances: number[]
  /** Total deposited. */
  deposited: number
  /** Transfers declined for insufficient funds. */
  declined: number
}

/** The state of an empty ledger. */
export function initialLedger(): LedgerState {
  return { seq: 0, gaps: 0, balances: new Array<number>(ACCOUNTS).fill(OPENING_BALANCE), deposited: 0, declined: 0 }
}

/** A 32-bit mix of `seq` (one round of a splitmix-style hash): cheap, deterministic, spread. */
function mix(seq: number, salt: number): number {
  let h = Math.imul(seq ^ salt, 0x9e3779b1) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

/** The operation of update `seq`, a function of `seq` only. */
export function ledgerOperation(seq: number): LedgerOperation {
  const to = mix(seq, 1) % ACCOUNTS
  if (seq % 8 === 0) return { op: 'deposit', to, amount: 1 + (mix(seq, 2) % 500) }
  const from = (to + 1 + (mix(seq, 3) % (ACCOUNTS - 1))) % ACCOUNTS
  return { op: 'transfer', from, to, amount: 1 + (mix(seq, 4) % 400) }
}

/**
 * Applies `update` to `state` in place and returns it. An update out of sequence is still
 * applied (a restore replays what the log holds) but counted in `gaps`.
 */
export function applyLedger(state: LedgerState, update: LedgerUpdate): LedgerState {
  if (update.seq !== state.seq + 1) state.gaps++
  state.seq = update.seq
  const balances = state.balances
  if (update.op === 'deposit') {
    balances[update.to] = (balances[update.to] ?? 0) + update.amount
    state.deposited += update.amount
  } else {
    const from = balances[update.from] ?? 0
    if (from < update.amount) {
      state.declined++
    } else {
      balances[update.from] = from - update.amount
      balances[update.to] = (balances[update.to] ?? 0) + update.amount
    }
  }
  return state
}

/** The state after updates 1..`seq`, rebuilt from the model without any log. */
export function expectedLedger(seq: number): LedgerState {
  const state = initialLedger()
  for (let next = 1; next <= seq; next++) applyLedger(state, { seq: next, at: '0', ...ledgerOperation(next) })
  return state
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A state or an update as the log stores it: UTF-8 JSON. */
export function encodeLedger(value: LedgerState | LedgerUpdate): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Decodes bytes written by {@link encodeLedger} (the caller knows which kind they are). */
export function decodeLedger<T extends LedgerState | LedgerUpdate>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T
}
