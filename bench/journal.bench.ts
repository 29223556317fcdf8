/**
 * The journal against the peers a user would pick for a local stream, in one run, 100 B
 * entries: Redis Streams (Debian's `redis-server`, started here on a free loopback port in a
 * temporary folder, no persistence, stopped at the end) through `ioredis`, and an SQLite queue
 * table through `better-sqlite3` (WAL, synchronous=NORMAL). Measures:
 * - appends across segment rolls, against `LogWriter` on one AppendOnlyFile, Redis `XADD`
 *   pipelined 1,000 at a time and SQLite inserts in transactions of 1,000;
 * - a durable consumer reading and committing every 1,000 entries, against Redis `XREADGROUP`
 *   (1,000 at a time) + `XACK` and an SQLite `SELECT … LIMIT 1000` + offset `UPDATE`;
 * - write-to-observe latency across processes (p50, p99), against Redis `XADD` → `XREAD BLOCK`;
 * - open and seek to a random position in a 1 GB and an 8 GB journal.
 * Ratios are taken within the run. Latencies use process.hrtime.bigint(), the monotonic clock
 * every process shares.
 *
 *   npm run bench:journal [-- --json] [-- --quick] [-- --only append,consume,latency,seek]
 *
 * Environment: BENCH_BIG_GB (default 8; 0 leaves the open/seek rows out), BENCH_ENTRIES
 * (appends per round, default 2,000,000). The same script is the latency child process
 * (argv[2] === 'child'). Files go to os.tmpdir() and are removed at the end.
 * @module
 */
import './built.ts'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { AppendOnlyFileSink, Journal, LogWriter, Manager } from '../dist/index.js'
import type { AppendOnlyFile, JournalConsumer } from '../dist/index.js'
import { comparedPackage, counterDelta, freePort, machine, mainThreadCounters, median, startReadyChild, table } from './harness.ts'
import type { LatencyChild } from './harness.ts'

const SELF = fileURLToPath(import.meta.url)
const ENTRY = 100
const QUICK = process.argv.includes('--quick')
const JSON_OUTPUT = process.argv.includes('--json')
const APPENDS = Number(process.env['BENCH_ENTRIES'] ?? (QUICK ? 300_000 : 2_000_000))
const REDIS_APPENDS = Math.min(APPENDS, QUICK ? 100_000 : 300_000)
const CONSUME = Math.min(APPENDS, QUICK ? 300_000 : 1_000_000)
const REDIS_CONSUME = Math.min(CONSUME, QUICK ? 100_000 : 300_000)
const ROUNDS = QUICK ? 2 : 3
const WARMUP = 500
const SAMPLES = QUICK ? 1000 : 3000
const BIG_GB = Number(process.env['BENCH_BIG_GB'] ?? (QUICK ? 0 : 8))
const SEEKS = 25
const BATCH = 1000
/** The parts to run (`--only a,b`): append, consume, latency, seek. Default: all. */
const ONLY_AT = process.argv.indexOf('--only')
const PARTS = new Set(ONLY_AT >= 0 ? (process.argv[ONLY_AT + 1] ?? '').split(',') : ['append', 'consume', 'latency', 'seek'])

interface RedisClient {
  pipeline(): { xadd(...args: (string | Buffer | number)[]): unknown; exec(): Promise<unknown> }
  xadd(...args: (string | Buffer | number)[]): Promise<unknown>
  xgroup(...args: (string | number)[]): Promise<unknown>
  xreadgroupBuffer(...args: (string | number)[]): Promise<[Buffer, [Buffer, Buffer[]][]][] | null>
  xreadBuffer(...args: (string | number)[]): Promise<[Buffer, [Buffer, Buffer[]][]][] | null>
  xack(key: string, group: string, ...ids: Buffer[]): Promise<number>
  del(key: string): Promise<number>
  ping(): Promise<string>
  on(event: 'error', listener: (error: Error) => void): unknown
  quit(): Promise<unknown>
  disconnect(): void
}
type RedisConstructor = new (options: { host: string; port: number; lazyConnect?: boolean; maxRetriesPerRequest?: number }) => RedisClient
interface SqliteStatement {
  run(...args: unknown[]): unknown
  all(...args: unknown[]): { id: number; data: Buffer }[]
}
interface SqliteDatabase {
  pragma(text: string): unknown
  exec(text: string): unknown
  prepare(text: string): SqliteStatement
  transaction<A extends unknown[]>(body: (...args: A) => void): (...args: A) => void
  close(): void
}
type SqliteConstructor = new (path: string) => SqliteDatabase

// ---------------------------------------------------------------- latency child

/** The child: follows a journal or a Redis stream, prints the latencies (ns) as JSON. */
async function child(kind: string, where: string, total: number): Promise<void> {
  const latencies: number[] = []
  const observe = (data: Uint8Array): void => {
    const now = process.hrtime.bigint()
    const sent = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(0, true)
    latencies.push(Number(now - sent))
  }
  if (kind === 'journal') {
    const reader = await Journal.openReader(where)
    const entries = reader.follow({ from: 'end' })
    process.stdout.write('ready\n')
    for await (const entry of entries) {
      observe(entry.data)
      if (latencies.length >= total) break
    }
    reader.close()
  } else {
    // A specifier held in a string: the type check must not need bench/node_modules.
    const ioredis: string = 'ioredis'
    const redisModule = (await import(ioredis)) as { default: RedisConstructor }
    const Redis = redisModule.default
    const redis = new Redis({ host: '127.0.0.1', port: Number(where) })
    // From the stream's start (a fresh key): an entry added before the first XREAD is not missed.
    let last = '0'
    await redis.ping()
    process.stdout.write('ready\n')
    while (latencies.length < total) {
      const result = await redis.xreadBuffer('BLOCK', 0, 'COUNT', 1000, 'STREAMS', 'latency', last)
      for (const [, messages] of result ?? []) {
        for (const [id, fields] of messages) {
          observe(fields[1]!)
          last = id.toString()
        }
      }
    }
    redis.disconnect()
  }
  process.stdout.write(`${JSON.stringify(latencies.slice(WARMUP))}\n`)
}

// ---------------------------------------------------------------- helpers

function entries(count: number): Uint8Array[] {
  const pool = new Uint8Array(ENTRY + 4096)
  for (let k = 0; k < pool.length; k++) pool[k] = (k * 2654435761) >>> 24
  return Array.from({ length: count }, (_, k) => pool.subarray(k % 4096, (k % 4096) + ENTRY))
}

/** Best of `rounds` timed runs (a fresh setup each), in entries per second. */
async function rateOf(
  count: number,
  setup: () => Promise<() => Promise<void> | void> | (() => Promise<void> | void),
  cleanup: () => Promise<void> | void = () => {},
  rounds = ROUNDS,
): Promise<number> {
  let best = Infinity
  for (let round = 0; round < rounds; round++) {
    const body = await setup()
    const start = process.hrtime.bigint()
    await body()
    best = Math.min(best, Number(process.hrtime.bigint() - start))
    await cleanup()
  }
  return count / (best / 1e9)
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

interface Latency {
  p50: number
  p99: number
}

/** Starts the latency child (this file, `child` mode), which says when it follows. */
function startChild(kind: string, where: string): LatencyChild<number[]> {
  return startReadyChild<number[]>([...process.execArgv, SELF, 'child', kind, where, String(WARMUP + SAMPLES)], `${kind} child`)
}

/** Writes WARMUP + SAMPLES timestamped entries about 1 ms apart through `send`. */
async function latencyRun(kind: string, where: string, send: (data: Buffer) => void | Promise<unknown>): Promise<Latency> {
  const started = startChild(kind, where)
  await started.ready
  const data = Buffer.alloc(ENTRY)
  for (let k = 0; k < WARMUP + SAMPLES; k++) {
    await new Promise((resolve) => setTimeout(resolve, 1))
    data.writeBigUInt64LE(process.hrtime.bigint(), 0)
    await send(data)
  }
  let timer: NodeJS.Timeout | undefined
  const latencies = await Promise.race([
    started.result,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        started.child.kill('SIGKILL')
        reject(new Error(`the ${kind} latency child did not see every entry within 60 s`))
      }, 60_000)
    }),
  ]).finally(() => clearTimeout(timer))
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

const cpuMs = (before: ReturnType<typeof mainThreadCounters>): number => {
  const delta = counterDelta(before, mainThreadCounters())
  return Math.max(1, delta.userMs + delta.systemMs)
}
const micros = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`
const millis = (ns: number): string => `${(ns / 1e6).toFixed(2)} ms`
const perSecond = (rate: number): string => `${Math.round(rate).toLocaleString('en-US')}/s`
const ratio = (value: number): string => `×${value.toFixed(2)}`
const progress = (text: string): void => void process.stderr.write(`${text}\n`)

// ---------------------------------------------------------------- Redis

async function startRedis(dir: string): Promise<{ port: number; stop: () => Promise<void> } | string> {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (found.error !== undefined || found.status !== 0) return 'redis-server is not installed (Debian: apt-get install redis-server)'
  const port = await freePort()
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()))
  return { port, stop: async () => (server.kill('SIGTERM'), await exited) }
}

async function connectRedis(Redis: RedisConstructor, port: number): Promise<RedisClient> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 })
    // Refused while the server starts: reported by ping() below, not as an unhandled event.
    client.on('error', () => {})
    try {
      await client.ping()
      return client
    } catch (error) {
      client.disconnect()
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'aofkit-journal-bench-'))
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(root, { recursive: true, force: true })]
  let stopping = false
  const cleanUp = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    for (const step of cleanups.reverse()) await step()
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().then(() => process.exit(130)))
  try {
    await run(root, cleanups)
  } finally {
    await cleanUp()
  }
}

async function run(root: string, cleanups: (() => Promise<void> | void)[]): Promise<void> {
  const load = loadavg().map((value) => value.toFixed(2)).join(' ')
  progress(`machine: ${machine()}; load average at start: ${load}`)
  const redisModule = await comparedPackage<{ default: RedisConstructor }>('ioredis')
  const sqliteModule = await comparedPackage<{ default: SqliteConstructor }>('better-sqlite3')
  const redisDir = join(root, 'redis')
  mkdirSync(redisDir)
  let redis: RedisClient | null = null
  let redisPort = 0
  let redisSkipped: string | null = null
  if (redisModule === null) redisSkipped = 'ioredis is not installed: npm install --prefix bench'
  else {
    const started = await startRedis(redisDir)
    if (typeof started === 'string') redisSkipped = started
    else {
      cleanups.push(started.stop)
      redisPort = started.port
      redis = await connectRedis(redisModule.default, started.port)
      cleanups.push(() => redis?.disconnect())
    }
  }
  if (redisSkipped !== null) progress(`Redis rows skipped: ${redisSkipped}`)
  const data = entries(BATCH)
  const rows: string[][] = [['measure', 'subject', 'figure', 'vs aofkit', 'target', 'met']]
  const results: Record<string, number | null> = {}

  // ---- Appends across segment rolls.
  if (PARTS.has('append')) {
    progress(`appends: ${APPENDS.toLocaleString('en-US')} entries of ${ENTRY} B`)
    let journalDir = ''
    // The journal and LogWriter, whose ratio has a target, alternate round by round.
    let journalAppend = 0
    let logWriterAppend = 0
    const manager = new Manager({ dir: root, flushIntervalMs: 0 })
    // Also the main thread's CPU time per append (10 ms ticks): on a loaded machine the wall
    // clock also counts the time the scheduler gave to others.
    let journalCpuMs = Infinity
    let logWriterCpuMs = Infinity
    let opened: Journal | null = null
    let openedFile: AppendOnlyFile | null = null
    for (let round = 0; round < ROUNDS; round++) {
      const journalRound = await rateOf(
        APPENDS,
        async () => {
          journalDir = join(root, `append-${Date.now()}`)
          const journal = await Journal.open(journalDir, { create: true, segmentBytes: 64 * 1024 * 1024 })
          opened = journal
          return () => {
            const before = mainThreadCounters()
            for (let k = 0; k < APPENDS; k++) journal.append(data[k % BATCH]!)
            journalCpuMs = Math.min(journalCpuMs, cpuMs(before))
            results['segments'] = journal.segmentCount
          }
        },
        async () => {
          // Closed outside the timing, as the LogWriter's file is: close() waits for the rolled
          // segments being finished (an fdatasync each), which the timed loop does not.
          await opened?.close()
          rmSync(journalDir, { recursive: true, force: true })
        },
        1,
      )
      const logWriterRound = await rateOf(
        APPENDS,
        () => {
          rmSync(join(root, 'one.aof'), { force: true })
          rmSync(join(root, 'one.aof-shm'), { force: true })
          const file = manager.open('one.aof', { create: true, geometry: { sizeUpper: 2 * 1024 ** 3, growthStep: 64 * 1024 * 1024 } })
          openedFile = file
          return () => {
            const before = mainThreadCounters()
            const log = new LogWriter(new AppendOnlyFileSink(file))
            for (let k = 0; k < APPENDS; k++) log.append(data[k % BATCH]!)
            logWriterCpuMs = Math.min(logWriterCpuMs, cpuMs(before))
          }
        },
        async () => {
          await openedFile?.close()
          rmSync(join(root, 'one.aof'), { force: true })
          rmSync(join(root, 'one.aof-shm'), { force: true })
        },
        1,
      )
      journalAppend = Math.max(journalAppend, journalRound)
      logWriterAppend = Math.max(logWriterAppend, logWriterRound)
    }
    let redisAppend: number | null = null
    if (redis !== null) {
      const client = redis
      redisAppend = await rateOf(
        REDIS_APPENDS,
        async () => {
          await client.del('append')
          return async () => {
            for (let k = 0; k < REDIS_APPENDS; k += BATCH) {
              const pipeline = client.pipeline()
              for (let j = 0; j < BATCH; j++) pipeline.xadd('append', '*', 'd', Buffer.from(data[j]!.buffer, data[j]!.byteOffset, ENTRY))
              await pipeline.exec()
            }
          }
        },
        async () => void (await client.del('append')),
      )
    }
    let sqliteAppend: number | null = null
    if (sqliteModule !== null) {
      const Database = sqliteModule.default
      let database: SqliteDatabase | null = null
      sqliteAppend = await rateOf(
        APPENDS,
        () => {
          rmSync(join(root, 'queue.db'), { force: true })
          database = new Database(join(root, 'queue.db'))
          database.pragma('journal_mode = WAL')
          database.pragma('synchronous = NORMAL')
          database.exec('CREATE TABLE q (id INTEGER PRIMARY KEY, data BLOB NOT NULL)')
          const insert = database.prepare('INSERT INTO q (data) VALUES (?)')
          const batch = database.transaction((from: number) => {
            for (let j = 0; j < BATCH; j++) insert.run(data[(from + j) % BATCH])
          })
          return () => {
            for (let k = 0; k < APPENDS; k += BATCH) batch(k)
          }
        },
        () => {
          database?.close()
          for (const suffix of ['', '-wal', '-shm']) rmSync(join(root, `queue.db${suffix}`), { force: true })
        },
      )
    }
    results['journalAppend'] = journalAppend
    results['logWriterAppend'] = logWriterAppend
    results['redisAppend'] = redisAppend
    results['sqliteAppend'] = sqliteAppend
    const appendVsLog = journalAppend / logWriterAppend
    rows.push(['append, 100 B', `aofkit Journal.append (64 MiB segments, ${results['segments']} of them)`, perSecond(journalAppend), '', '', ''])
    rows.push(['', 'LogWriter on one AppendOnlyFile', perSecond(logWriterAppend), ratio(appendVsLog), '≥ ×0.9', appendVsLog >= 0.9 ? 'yes' : 'NO'])
    const cpuVsLog = logWriterCpuMs / journalCpuMs
    results['journalAppendCpu'] = APPENDS / (journalCpuMs / 1000)
    results['logWriterAppendCpu'] = APPENDS / (logWriterCpuMs / 1000)
    rows.push(['', 'the same, per main-thread CPU second: aofkit', perSecond(APPENDS / (journalCpuMs / 1000)), '', '', ''])
    rows.push(['', 'the same, per main-thread CPU second: LogWriter', perSecond(APPENDS / (logWriterCpuMs / 1000)), ratio(cpuVsLog), '≥ ×0.9', cpuVsLog >= 0.9 ? 'yes' : 'NO'])
    if (redisAppend !== null) {
      const vs = journalAppend / redisAppend
      rows.push(['', 'Redis XADD, pipelined 1,000 at a time', perSecond(redisAppend), ratio(vs), '≥ ×10', vs >= 10 ? 'yes' : 'NO'])
    } else rows.push(['', 'Redis XADD', `skipped: ${redisSkipped}`, '', '≥ ×10', ''])
    if (sqliteAppend !== null) rows.push(['', 'SQLite INSERT, 1,000 per transaction (WAL)', perSecond(sqliteAppend), ratio(journalAppend / sqliteAppend), '', ''])
  }

  // ---- A consumer reading and committing every 1,000 entries.
  if (PARTS.has('consume')) {
    progress(`consumers: ${CONSUME.toLocaleString('en-US')} entries, a commit every ${BATCH}`)
    const consumeDir = join(root, 'consume')
    {
      const journal = await Journal.open(consumeDir, { create: true })
      for (let k = 0; k < CONSUME; k++) journal.append(data[k % BATCH]!)
      await journal.sync()
      await journal.close()
    }
    let round = 0
    /**
     * The rate of a new consumer reading the whole journal through `readAll`, which commits
     * every BATCH entries (awaiting each commit or not) and returns the bytes it read.
     */
    const consumeRate = (readAll: (consumer: JournalConsumer, commit: (position: number) => Promise<void>) => Promise<number>) =>
      async (awaitCommit: boolean): Promise<number> =>
        rateOf(CONSUME, async () => {
          const consumer = await Journal.openConsumer(consumeDir, `c${round++}`, { from: 'start' })
          const commit = async (position: number): Promise<void> => {
            if (awaitCommit) await consumer.commit(position)
            else void consumer.commit(position)
          }
          return async () => {
            const bytes = await readAll(consumer, commit)
            await consumer.commit(CONSUME - 1)
            await consumer.close()
            if (bytes !== CONSUME * ENTRY) throw new Error('short read')
          }
        })
    const consumeJournal = consumeRate(async (consumer, commit) => {
      let seen = 0
      let bytes = 0
      for await (const entry of consumer) {
        bytes += entry.data.length
        if (++seen % BATCH === 0) await commit(entry.position)
        if (seen === CONSUME) break
      }
      return bytes
    })
    // The batch form: poll() of up to 1,000 entries, then a commit of the batch's last.
    const pollJournal = consumeRate(async (consumer, commit) => {
      let seen = 0
      let bytes = 0
      while (seen < CONSUME) {
        const batch = await consumer.poll({ max: BATCH })
        for (const entry of batch) bytes += entry.data.length
        seen += batch.length
        await commit(batch[batch.length - 1]!.position)
      }
      return bytes
    })
    const consumeAwaited = await consumeJournal(true)
    const consumeBackground = await consumeJournal(false)
    const pollAwaited = await pollJournal(true)
    const pollBackground = await pollJournal(false)
    let redisConsume: number | null = null
    if (redis !== null) {
      const client = redis
      await client.del('consume')
      for (let k = 0; k < REDIS_CONSUME; k += BATCH) {
        const pipeline = client.pipeline()
        for (let j = 0; j < BATCH; j++) pipeline.xadd('consume', '*', 'd', Buffer.from(data[j]!.buffer, data[j]!.byteOffset, ENTRY))
        await pipeline.exec()
      }
      let group = 0
      redisConsume = await rateOf(REDIS_CONSUME, async () => {
        const name = `g${group++}`
        await client.xgroup('CREATE', 'consume', name, '0')
        return async () => {
          let seen = 0
          while (seen < REDIS_CONSUME) {
            const result = await client.xreadgroupBuffer('GROUP', name, 'c', 'COUNT', BATCH, 'STREAMS', 'consume', '>')
            const messages = result?.[0]?.[1] ?? []
            if (messages.length === 0) throw new Error('Redis stream ended early')
            await client.xack('consume', name, ...messages.map(([id]) => id))
            seen += messages.length
          }
        }
      })
      await client.del('consume')
    }
    let sqliteConsume: number | null = null
    if (sqliteModule !== null) {
      const database = new sqliteModule.default(join(root, 'consume.db'))
      database.pragma('journal_mode = WAL')
      database.pragma('synchronous = NORMAL')
      database.exec('CREATE TABLE q (id INTEGER PRIMARY KEY, data BLOB NOT NULL); CREATE TABLE offsets (name TEXT PRIMARY KEY, position INTEGER NOT NULL)')
      const insert = database.prepare('INSERT INTO q (data) VALUES (?)')
      database.transaction(() => {
        for (let k = 0; k < CONSUME; k++) insert.run(data[k % BATCH])
      })()
      const select = database.prepare('SELECT id, data FROM q WHERE id > ? ORDER BY id LIMIT 1000')
      const commit = database.prepare('INSERT INTO offsets (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position')
      let consumerName = 0
      sqliteConsume = await rateOf(CONSUME, () => {
        const name = `c${consumerName++}`
        return () => {
          let position = 0
          let seen = 0
          while (seen < CONSUME) {
            const batch = select.all(position)
            if (batch.length === 0) throw new Error('SQLite queue ended early')
            seen += batch.length
            position = batch[batch.length - 1]!.id
            commit.run(name, position)
          }
        }
      })
      database.close()
    }
    rmSync(consumeDir, { recursive: true, force: true })
    results['consumeAwaited'] = consumeAwaited
    results['consumeBackground'] = consumeBackground
    results['pollAwaited'] = pollAwaited
    results['pollBackground'] = pollBackground
    results['redisConsume'] = redisConsume
    results['sqliteConsume'] = sqliteConsume
    // The target is judged on the batch form with commits not awaited: Redis runs without
    // persistence, so its XACK is done in memory and never made durable; a commit not awaited
    // is recorded at once and durable one fdatasync later (the run ends with an awaited commit
    // of the last entry). The awaited rows also wait for each commit's fdatasync.
    const redisRatio = (rate: number): string => (redisConsume === null ? '' : ratio(rate / redisConsume))
    rows.push(['consume + commit every 1,000', 'aofkit poll({ max: 1000 }), await commit() (durable)', perSecond(pollAwaited), redisRatio(pollAwaited), '', ''])
    rows.push(['', 'aofkit poll({ max: 1000 }), commit() not awaited', perSecond(pollBackground), redisRatio(pollBackground), '', ''])
    rows.push(['', 'aofkit for await, await commit() (durable)', perSecond(consumeAwaited), redisRatio(consumeAwaited), '', ''])
    rows.push(['', 'aofkit for await, commit() not awaited', perSecond(consumeBackground), redisRatio(consumeBackground), '', ''])
    if (redisConsume !== null) {
      const vs = pollBackground / redisConsume
      rows.push(['', 'Redis XREADGROUP COUNT 1000 + XACK (not durable)', perSecond(redisConsume), ratio(vs), '≥ ×10', vs >= 10 ? 'yes' : 'NO'])
    } else rows.push(['', 'Redis XREADGROUP + XACK', `skipped: ${redisSkipped}`, '', '≥ ×10', ''])
    if (sqliteConsume !== null) rows.push(['', 'SQLite SELECT LIMIT 1000 + offset UPDATE', perSecond(sqliteConsume), ratio(pollBackground / sqliteConsume), '', ''])
  }

  // ---- Write-to-observe latency across processes.
  if (PARTS.has('latency')) {
    progress(`latency: ${SAMPLES} samples after ${WARMUP} warm-up, about 1 ms apart`)
    const latencyDir = join(root, 'latency')
    const writer = await Journal.open(latencyDir, { create: true })
    const journalLatency = await latencyRun('journal', latencyDir, (entry) => void writer.append(entry))
    await writer.close()
    rmSync(latencyDir, { recursive: true, force: true })
    let redisLatency: Latency | null = null
    if (redis !== null) {
      const client = redis
      await client.del('latency')
      redisLatency = await latencyRun('redis', String(redisPort), (entry) => client.xadd('latency', '*', 'd', entry))
      await client.del('latency')
    }
    results['journalP50'] = journalLatency.p50
    results['journalP99'] = journalLatency.p99
    results['redisP50'] = redisLatency?.p50 ?? null
    results['redisP99'] = redisLatency?.p99 ?? null
    rows.push(['write → observe, other process', 'aofkit append → follow()', `p50 ${micros(journalLatency.p50)}, p99 ${micros(journalLatency.p99)}`, '', '', ''])
    if (redisLatency !== null) {
      const vs = journalLatency.p50 / redisLatency.p50
      rows.push([
        '',
        'Redis XADD → XREAD BLOCK',
        `p50 ${micros(redisLatency.p50)}, p99 ${micros(redisLatency.p99)}`,
        `p50 ${ratio(vs)}, p99 ${ratio(journalLatency.p99 / redisLatency.p99)}`,
        'p50 ≤ ×0.33',
        vs <= 1 / 3 ? 'yes' : 'NO',
      ])
    } else rows.push(['', 'Redis XADD → XREAD BLOCK', `skipped: ${redisSkipped}`, '', 'p50 ≤ ×0.33', ''])
  }

  // ---- Open and seek in a 1 GB and an 8 GB journal: two journals, measured alternately, so
  // that the machine's state (the page cache, the write-back of what was just written) weighs
  // on both alike.
  if (BIG_GB > 0 && PARTS.has('seek')) {
    const block = entries(BATCH)
    const journals: { dir: string; gb: number; entries: number; opens: number[]; seeks: number[] }[] = []
    for (const gb of [1, BIG_GB]) {
      progress(`open and seek: writing a ${gb} GB journal`)
      const dir = join(root, `journal-${gb}gb`)
      const journal = await Journal.open(dir, { create: true })
      while (journalBytes(dir) < gb * 1e9) {
        for (let k = 0; k < 100_000; k++) journal.append(block[k % BATCH]!)
        await journal.sync()
      }
      journals.push({ dir, gb: journalBytes(dir) / 1e9, entries: journal.nextPosition, opens: [], seeks: [] })
      await journal.close()
    }
    let state = 12345
    const random = (): number => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32
    for (let k = 0; k < SEEKS; k++) {
      for (const measured of journals) {
        const position = Math.floor(random() * measured.entries)
        const start = process.hrtime.bigint()
        const reader = await Journal.openReader(measured.dir)
        const opened = process.hrtime.bigint()
        const first = reader.read({ from: position }).next()
        const sought = process.hrtime.bigint()
        if (first.done === true || first.value.position !== position) throw new Error(`seek to ${position} failed`)
        reader.close()
        measured.opens.push(Number(opened - start))
        measured.seeks.push(Number(sought - opened))
      }
    }
    // The writer's open: recovery of the open segment (at most 64 MiB) whatever the size.
    const writerOpens: number[][] = journals.map(() => [])
    for (let k = 0; k < 5; k++) {
      for (const [index, measured] of journals.entries()) {
        const start = process.hrtime.bigint()
        const reopened = await Journal.open(measured.dir)
        writerOpens[index]!.push(Number(process.hrtime.bigint() - start))
        await reopened.close()
      }
    }
    for (const measured of journals) rmSync(measured.dir, { recursive: true, force: true })
    const [small, large] = journals as [(typeof journals)[0], (typeof journals)[0]]
    const total = (measured: typeof small): number => median(measured.opens) + median(measured.seeks)
    results['open1'] = median(small.opens)
    results['seek1'] = median(small.seeks)
    results['openBig'] = median(large.opens)
    results['seekBig'] = median(large.seeks)
    results['writerOpen1'] = median(writerOpens[0]!)
    results['writerOpenBig'] = median(writerOpens[1]!)
    for (const [index, measured] of journals.entries()) {
      const vs = total(measured) / total(small)
      const first = measured === small
      rows.push([
        first ? 'open + seek to a random position' : '',
        `${measured.gb.toFixed(2)} GB journal, ${measured.entries.toLocaleString('en-US')} entries`,
        `openReader ${micros(median(measured.opens))} + read({ from }) ${micros(median(measured.seeks))}, medians of ${SEEKS}; Journal.open ${millis(median(writerOpens[index]!))}`,
        first ? '' : ratio(vs),
        first ? '' : 'within ×2',
        first ? '' : vs <= 2 ? 'yes' : 'NO',
      ])
    }
  }

  if (JSON_OUTPUT) {
    process.stdout.write(`${JSON.stringify({ machine: machine(), results }, null, 2)}\n`)
    return
  }
  const endLoad = loadavg().map((value) => value.toFixed(2)).join(' ')
  process.stdout.write(`Journal vs Redis Streams and an SQLite queue, ${ENTRY} B entries (${machine()})\n`)
  process.stdout.write(`load average at start: ${load}; at the end: ${endLoad}\n\n`)
  process.stdout.write(`${table(rows, [false, false, true, true, false, false])}\n`)
}

/** The bytes of a journal's segment files as they are on disk. */
function journalBytes(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) if (name.endsWith('.log')) total += statSync(join(dir, name)).size
  return total
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]))
else await main()
