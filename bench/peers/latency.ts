/**
 * Cross-process write-to-observe latency: a writer here appends one 100 B record holding
 * `process.hrtime.bigint()` about every millisecond (the write, then `await` a 1 ms timer); a
 * reader in another process (bench/latency-child.ts, the reader of bench/tail-latency.bench.ts
 * too) subtracts it from the same monotonic clock on arrival. One reader process at a time.
 * @module
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'

import { AppendOnlyFile } from '../../dist/index.js'
import { RECORD_SIZE } from './common.ts'
import type { RedisClass } from './redis.ts'
import { startLatencyChild } from '../harness.ts'


/** How bench/latency-child.ts follows each kind: aofkit with `openReader` + `subscribe()`. */
const READER_MODE = { aofkit: 'aof-subscribe', watch: 'watch', redis: 'redis' } as const

export type LatencyKind = 'aofkit' | 'watch' | 'redis'

/** Percentiles of one run, in microseconds. */
export interface Latency {
  p50: number
  p99: number
}

/** Where the records go: the writer's side of one kind. */
interface Target {
  /** What the child is told to follow. */
  address: string
  write(bytes: Uint8Array): Promise<unknown> | void
  close(): Promise<void> | void
}

async function target(kind: LatencyKind, dir: string, redis: { Redis: RedisClass; port: number } | null, run: number): Promise<Target> {
  if (kind === 'aofkit') {
    const path = join(dir, 'latency.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    return { address: path, write: (bytes) => void file.write(bytes), close: () => file.close() }
  }
  if (kind === 'watch') {
    const path = join(dir, 'latency.file')
    const fd = openSync(path, 'a')
    return { address: path, write: (bytes) => void writeSync(fd, bytes), close: () => closeSync(fd) }
  }
  if (redis === null) throw new Error('no redis-server')
  const client = new redis.Redis({ host: '127.0.0.1', port: redis.port })
  const key = `latency:${run}`
  await client.del(key)
  return {
    address: `${redis.port}:${key}`,
    write: (bytes) => client.xadd(key, '*', 'd', bytes),
    close: async () => {
      await client.del(key)
      await client.quit()
    },
  }
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

let runs = 0

/** One run: `warmup` + `samples` records, the warm-up left out of the percentiles. */
export async function measureLatency(
  kind: LatencyKind,
  dir: string,
  options: { warmup: number; samples: number; redis: { Redis: RedisClass; port: number } | null },
): Promise<Latency> {
  const total = options.warmup + options.samples
  const into = await target(kind, dir, options.redis, ++runs)
  const { ready, result } = startLatencyChild(READER_MODE[kind], into.address, total, RECORD_SIZE)
  await Promise.race([ready, result])
  const bytes = Buffer.alloc(RECORD_SIZE) // a Buffer: ioredis sends other views as text
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < total; i++) {
    view.setBigUint64(0, process.hrtime.bigint(), true)
    await into.write(bytes)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  const latencies = await result
  await into.close()
  const sorted = latencies.slice(options.warmup).sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5) / 1000, p99: percentile(sorted, 0.99) / 1000 }
}
