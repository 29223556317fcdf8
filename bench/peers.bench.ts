/**
 * aofkit side by side with what a Node user picks today for an append-only log, in one run on
 * the same 100 B records: appends without fsync, durable appends (one fsync per 1,000
 * records, and group commit from 256 concurrent writers each awaiting its own durability), a
 * full read with whatever checks each peer has, and cross-process write-to-observe latency
 * where a peer can do it. Prints a table of records/s with the ratio to aofkit and writes an
 * SVG chart of it.
 *
 *   npm run bench:peers -- [--seconds 1] [--reps 3] [--samples 2000] [--warmup 100]
 *                          [--max-records 2000000] [--svg path] [--write-docs] [--json]
 *
 * The peers are in bench/package.json (npm install --prefix bench); one not installed is left
 * out with a note. Redis is Debian's redis-server, started here on 127.0.0.1 and stopped at the
 * end; without it, its rows are skipped. `--write-docs` writes docs/peers.svg and rewrites the
 * peers section of docs/BENCHMARKS.md (between its markers) with this run's output.
 * @module
 */
import './built.ts'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { machine, median } from './harness.ts'
import { aofkitPeers } from './peers/aofkit.ts'
import { BATCH, RECORD_SIZE, WRITERS, type MakeTrial, type Peer, type Scenario } from './peers/common.ts'
import { hypercorePeers } from './peers/hypercore.ts'
import { measureLatency, type Latency, type LatencyKind } from './peers/latency.ts'
import { levelPeers } from './peers/level.ts'
import { lmdbPeers } from './peers/lmdb.ts'
import { plainFilePeers } from './peers/plain-file.ts'
import { redisClass, redisPeers, startRedis, type RedisServer } from './peers/redis.ts'
import { sonicBoomPeers } from './peers/sonic-boom.ts'
import { sqlitePeers } from './peers/sqlite.ts'
import { chartSvg, type Chart, type Panel } from './peers/svg.ts'
import { peersMarkdown, type Result } from './peers/report.ts'

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    reps: { type: 'string', default: '3' },
    samples: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '100' },
    'max-records': { type: 'string', default: '2000000' },
    svg: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const SECONDS = Number(flags.seconds)
const REPS = Number(flags.reps)
const SAMPLES = Number(flags.samples)
const WARMUP = Number(flags.warmup)
const MAX_RECORDS = Number(flags['max-records'])
const CALIBRATION = 10_000
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SCENARIOS: Scenario[] = ['append', 'durable', 'group', 'read']

const progress = (text: string): void => void process.stderr.write(`${text}\n`)
const base = mkdtempSync(join(tmpdir(), 'aofkit-peers-'))

/** Records per second of one trial in a fresh directory. */
async function timeTrial(make: MakeTrial, count: number): Promise<number> {
  const dir = mkdtempSync(join(base, 'run-'))
  try {
    const trial = await make(dir, count)
    try {
      const start = process.hrtime.bigint()
      await trial.run()
      return count / (Number(process.hrtime.bigint() - start) / 1e9)
    } finally {
      await trial.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function rotated<T>(list: readonly T[], by: number): T[] {
  return list.map((_, index) => list[(index + by) % list.length]!)
}

const loadBefore = loadavg()
const peers: Peer[] = [
  ...aofkitPeers,
  ...plainFilePeers,
  ...(await sonicBoomPeers()),
  ...(await lmdbPeers()),
  ...(await sqlitePeers()),
  ...(await levelPeers()),
  ...(await hypercorePeers()),
]
const skipped: string[] = []
let redis: RedisServer | null = null
const Redis = await redisClass()
if (Redis === null) skipped.push('Redis: the ioredis client is not installed (npm install --prefix bench), so its rows are skipped')
else {
  const started = await startRedis(Redis)
  if (typeof started === 'string') skipped.push(`Redis: ${started}, so its rows are skipped`)
  else {
    redis = started
    peers.push(...redisPeers(Redis, started))
  }
}
for (const note of skipped) progress(note)

/** The versions compared, for the record: each peer package's and redis-server's. */
function versions(): string {
  const found: string[] = []
  for (const name of ['sonic-boom', 'lmdb', 'better-sqlite3', 'classic-level', 'hypercore', 'ioredis']) {
    try {
      const { version } = JSON.parse(readFileSync(join(ROOT, 'bench', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }
      found.push(`${name} ${version}`)
    } catch {
      // Not installed: left out above.
    }
  }
  if (redis !== null) {
    const match = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))
    if (match !== null) found.push(`redis-server ${match[1]!}`)
  }
  return found.join(', ')
}
const compared = versions()

const results = new Map<Peer, Result>(peers.map((peer) => [peer, { rates: {}, allRates: {} }]))
try {
  for (const scenario of SCENARIOS) {
    const subjects = peers.filter((peer) => peer.trials[scenario] !== undefined)
    const counts = new Map<Peer, number>()
    for (const peer of subjects) {
      progress(`${scenario} ${peer.name}: warm-up`)
      // Twice: the first run also warms up the code, the second, a tenth of a run, sets the count.
      const sized = (rate: number, seconds: number): number =>
        Math.min(MAX_RECORDS, Math.max(CALIBRATION, Math.ceil((rate * seconds) / BATCH) * BATCH))
      const first = await timeTrial(peer.trials[scenario]!, CALIBRATION)
      const second = await timeTrial(peer.trials[scenario]!, sized(first, SECONDS / 10))
      counts.set(peer, sized(second, SECONDS))
    }
    for (let rep = 0; rep < REPS; rep++) {
      for (const peer of rotated(subjects, rep)) {
        const rate = await timeTrial(peer.trials[scenario]!, counts.get(peer)!)
        const result = results.get(peer)!
        ;(result.allRates[scenario] ??= []).push(rate)
        progress(`${scenario} ${peer.name}: ${(rate / 1e6).toFixed(3)} M records/s (${counts.get(peer)!} records)`)
      }
    }
    for (const peer of subjects) {
      const result = results.get(peer)!
      result.rates[scenario] = median(result.allRates[scenario]!)
    }
  }

  const kinds: [LatencyKind, Peer | undefined][] = [
    ['aofkit', peers.find((peer) => peer.name.startsWith('aofkit AppendOnlyFile'))],
    ['watch', peers.find((peer) => peer.name === 'fs.writeSync per record')],
    ['redis', redis === null ? undefined : peers.find((peer) => peer.name.startsWith('Redis'))],
  ]
  const latencyRuns = new Map<Peer, Latency[]>()
  for (let rep = 0; rep < REPS; rep++) {
    for (const [kind, peer] of rotated(kinds, rep)) {
      if (peer === undefined) continue
      const dir = mkdtempSync(join(base, 'latency-'))
      try {
        const run = await measureLatency(kind, dir, { warmup: WARMUP, samples: SAMPLES, redis: redis === null || Redis === null ? null : { Redis, port: redis.port } })
        ;(latencyRuns.get(peer) ?? latencyRuns.set(peer, []).get(peer)!).push(run)
        progress(`latency ${peer.name}: p50 ${run.p50.toFixed(1)} µs, p99 ${run.p99.toFixed(1)} µs`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  for (const [peer, runs] of latencyRuns) {
    results.get(peer)!.latency = { p50: median(runs.map((run) => run.p50)), p99: median(runs.map((run) => run.p99)), runs }
  }
} finally {
  await redis?.stop()
  rmSync(base, { recursive: true, force: true })
}
const loadAfter = loadavg()

const command = process.argv.length > 2 ? `npm run bench:peers -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:peers'
const load = `load average ${loadBefore[0]!.toFixed(2)} at the start, ${loadAfter[0]!.toFixed(2)} at the end`
const markdown = peersMarkdown(
  peers.map((peer) => ({ peer, result: results.get(peer)! })),
  { command, machine: `${machine()}; ${load}`, versions: compared, reps: REPS, samples: SAMPLES, warmup: WARMUP, skipped },
)

/** The chart: the four rates and the two latencies, ratios to aofkit's first row with one. */
function chart(): Chart {
  const reference = (pick: (result: Result) => number | undefined): number | undefined => {
    for (const peer of peers) {
      const value = peer.aofkit === true ? pick(results.get(peer)!) : undefined
      if (value !== undefined) return value
    }
    return undefined
  }
  const panel = (title: string, unit: Panel['unit'], pick: (result: Result) => number | undefined, has: (peer: Peer) => boolean): Panel => {
    const ref = reference(pick)
    return {
      title,
      unit,
      bars: peers.filter(has).map((peer) => {
        const value = pick(results.get(peer)!) ?? null
        const mark = peer.name.startsWith('Redis') && (title.startsWith('Durable') || title.startsWith('Group')) ? ' †' : ''
        return {
          label: peer.label,
          value,
          ...(value !== null && ref !== undefined ? { ratio: value / ref } : {}),
          ...(peer.aofkit === true ? { aofkit: true } : {}),
          ...(mark === '' ? {} : { mark }),
        }
      }),
    }
  }
  const hasLatency = (peer: Peer): boolean => results.get(peer)!.latency !== undefined
  // A peer that cannot do it shows "n/a"; one that is not meant to (a batch has one writer) is left out.
  const does = (scenario: Scenario) => (peer: Peer): boolean =>
    peer.trials[scenario] !== undefined || peer.notes?.[scenario]?.startsWith('cannot') === true
  return {
    title: 'aofkit side by side with the peers (100 B records)',
    subtitle: `records/s, median of ${REPS} runs; ratio to aofkit (blue). ${machine()}; ${load}`,
    panels: [
      panel('Appends, no fsync', 'rate', (r) => r.rates.append, does('append')),
      panel('Durable: one fsync per 1,000 records', 'rate', (r) => r.rates.durable, does('durable')),
      panel(`Group commit: ${WRITERS} writers, each awaits durability`, 'rate', (r) => r.rates.group, does('group')),
      panel('Full read (with checksums where the peer has them)', 'rate', (r) => r.rates.read, does('read')),
      panel('Cross-process write-to-observe, p50 (lower is better)', 'us', (r) => r.latency?.p50, hasLatency),
      panel('Cross-process write-to-observe, p99 (lower is better)', 'us', (r) => r.latency?.p99, hasLatency),
    ],
    footnotes: [
      '† Redis with appendfsync everysec acknowledges before the fsync (once a second): not durable per write.',
      'n/a: hypercore cannot fsync an append. Reads: only aofkit LogWriter (XXH64) and the framed log (crc32) verify checksums; the others check nothing.',
      `Made by ${command}; figures and method in docs/BENCHMARKS.md.`,
    ],
  }
}

const svg = chartSvg(chart())
const svgPath = flags.svg ?? (flags['write-docs'] ? join(ROOT, 'docs', 'peers.svg') : join(tmpdir(), 'aofkit-peers.svg'))
writeFileSync(svgPath, svg)

if (flags['write-docs']) {
  const docs = join(ROOT, 'docs', 'BENCHMARKS.md')
  const text = readFileSync(docs, 'utf8')
  const begin = '<!-- bench:peers begin -->'
  const end = '<!-- bench:peers end -->'
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`docs/BENCHMARKS.md has no ${begin} ... ${end} section to rewrite`)
  writeFileSync(docs, `${text.slice(0, from + begin.length)}\n${markdown}\n${text.slice(to)}`)
  progress('rewrote the peers section of docs/BENCHMARKS.md')
}

if (flags.json) {
  const rows = peers.map((peer) => ({ name: peer.name, ...results.get(peer)! }))
  process.stdout.write(`${JSON.stringify({ recordSize: RECORD_SIZE, reps: REPS, skipped, rows }, null, 2)}\n`)
} else {
  process.stdout.write(`${markdown}\n`)
}
progress(`chart: ${svgPath}`)
