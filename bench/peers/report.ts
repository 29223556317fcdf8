/**
 * The text of bench/peers.bench.ts: the table (markdown, printed as it is and pasted into
 * docs/BENCHMARKS.md by `--write-docs`) and how each subject was driven.
 * @module
 */
import type { Peer, Scenario } from './common.ts'

/** What one subject measured. */
export interface Result {
  /** Median records/s per scenario. */
  rates: Partial<Record<Scenario, number>>
  /** Every repetition's records/s. */
  allRates: Partial<Record<Scenario, number[]>>
  /** Median p50 and p99 (µs) over the repetitions, and each repetition's. */
  latency?: { p50: number; p99: number; runs: { p50: number; p99: number }[] }
}

export interface ReportMeta {
  command: string
  machine: string
  /** The peers' versions, one line. */
  versions: string
  reps: number
  samples: number
  warmup: number
  skipped: string[]
}

const SCENARIO_TEXT: Record<Scenario | 'latency', string> = {
  append: 'appends',
  durable: 'durable',
  group: 'group commit',
  read: 'read',
  latency: 'latency',
}

/** aofkit's value in a column: its first row that has one. */
function reference(rows: readonly { peer: Peer; result: Result }[], pick: (result: Result) => number | undefined): number | undefined {
  for (const { peer, result } of rows) {
    const value = peer.aofkit === true ? pick(result) : undefined
    if (value !== undefined) return value
  }
  return undefined
}

function rateCell(value: number | undefined, ref: number | undefined): string {
  if (value === undefined) return '—'
  const ratio = ref === undefined ? '' : ` (${(value / ref).toFixed(2)}×)`
  return `${(value / 1e6).toFixed(2)} M/s${ratio}`
}

function microseconds(value: number): string {
  return value < 100 ? value.toFixed(1) : value.toFixed(0)
}

function latencyCell(value: number | undefined, ref: number | undefined): string {
  if (value === undefined) return '—'
  return `${microseconds(value)}${ref === undefined ? '' : ` (${(value / ref).toFixed(2)}×)`}`
}

/** The table and the notes, as markdown. */
export function peersMarkdown(rows: readonly { peer: Peer; result: Result }[], meta: ReportMeta): string {
  const refs = {
    append: reference(rows, (r) => r.rates.append),
    durable: reference(rows, (r) => r.rates.durable),
    group: reference(rows, (r) => r.rates.group),
    read: reference(rows, (r) => r.rates.read),
    p50: reference(rows, (r) => r.latency?.p50),
    p99: reference(rows, (r) => r.latency?.p99),
  }
  const lines = [
    `\`${meta.command}\` on ${meta.machine}.`,
    '',
    `Compared: ${meta.versions === '' ? 'no peer package installed' : meta.versions}.`,
    '',
    `100 B records; records/s, median of ${meta.reps} runs; in parentheses the ratio to aofkit (its first row with a`,
    'figure in the column: the record log for the read), above 1 where the peer is faster, or for latency, slower.',
    `Latency: µs from a write to a reader in another process seeing it, one record about every millisecond,`,
    `${meta.samples} measured after ${meta.warmup} warm-up, median of ${meta.reps} runs' p50 and p99.`,
    '',
    '| subject | appends, no fsync | durable, fsync per 1,000 | group commit, 256 writers | full read | latency p50 µs | latency p99 µs |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ]
  for (const { peer, result } of rows) {
    const name = peer.aofkit === true ? `**${peer.name}**` : peer.name
    lines.push(
      `| ${[
        name,
        rateCell(result.rates.append, refs.append),
        rateCell(result.rates.durable, refs.durable),
        rateCell(result.rates.group, refs.group),
        rateCell(result.rates.read, refs.read),
        latencyCell(result.latency?.p50, refs.p50),
        latencyCell(result.latency?.p99, refs.p99),
      ].join(' | ')} |`,
    )
  }
  lines.push(
    '',
    `Spread: the fastest of the ${meta.reps} runs over the slowest, per subject and column (durable figures follow the disk's`,
    "fsync latency, which the host's other work moves).",
    '',
    '| subject | appends | durable | group commit | read | latency p50 | latency p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  )
  const spread = (values: readonly number[] | undefined): string =>
    values === undefined || values.length === 0 ? '—' : `${(Math.max(...values) / Math.min(...values)).toFixed(2)}×`
  for (const { peer, result } of rows) {
    const runs = result.latency?.runs
    lines.push(
      `| ${[
        peer.name,
        spread(result.allRates.append),
        spread(result.allRates.durable),
        spread(result.allRates.group),
        spread(result.allRates.read),
        spread(runs?.map((run) => run.p50)),
        spread(runs?.map((run) => run.p99)),
      ].join(' | ')} |`,
    )
  }
  lines.push('', 'How each subject was driven, and what its read checks:', '')
  for (const { peer } of rows) {
    const notes = (Object.entries(peer.notes ?? {}) as [Scenario | 'latency', string][]).map(([key, text]) => `${SCENARIO_TEXT[key]}: ${text}`)
    if (peer.readChecks !== undefined) notes.push(`read checks: ${peer.readChecks}`)
    lines.push(`- ${peer.name}${notes.length > 0 ? `: ${notes.join('; ')}` : ''}.`)
  }
  for (const note of meta.skipped) lines.push(`- ${note}.`)
  return lines.join('\n')
}
