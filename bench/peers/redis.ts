/**
 * Redis, as Debian ships it (`redis-server`), started here on 127.0.0.1 at a free port with its
 * data in a fresh directory: the append-only file on, `appendfsync everysec` (the default
 * with AOF: an fsync once a second, so up to a second of acknowledged writes can be lost; Redis
 * 7.0 has no WAITAOF to wait for one). The log is a stream: `XADD` of the record, through
 * ioredis, 1,000 commands per pipeline; read back with `XRANGE ... COUNT 1000`.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { comparedPackage, freePort } from '../harness.ts'
import { concurrently, expectCount, inBatches, record, type MakeTrial, type Peer } from './common.ts'

export interface RedisClient {
  xadd(key: string, id: '*', field: string, value: Uint8Array): Promise<string | null>
  xrangeBuffer(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[Buffer, Buffer[]][]>
  xreadBuffer(...args: (string | number)[]): Promise<[Buffer, [Buffer, Buffer[]][]][] | null>
  pipeline(): { xadd(key: string, id: '*', field: string, value: Uint8Array): unknown; exec(): Promise<unknown> }
  ping(): Promise<string>
  on(event: 'error', listener: (error: Error) => void): unknown
  del(key: string): Promise<number>
  quit(): Promise<unknown>
  disconnect(): void
}
export type RedisClass = new (options: {
  host: string
  port: number
  enableAutoPipelining?: boolean
  lazyConnect?: boolean
  maxRetriesPerRequest?: number | null
  retryStrategy?: () => null
}) => RedisClient

/** The ioredis client class, or null (with a note) when it is not installed. */
export async function redisClass(): Promise<RedisClass | null> {
  const module = await comparedPackage<{ default: RedisClass }>('ioredis')
  return module === null ? null : module.default
}

/** A running redis-server of this benchmark. */
export interface RedisServer {
  port: number
  stop(): Promise<void>
}


/** Starts redis-server; a string says why it could not be. */
export async function startRedis(Redis: RedisClass): Promise<RedisServer | string> {
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-peers-redis-'))
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']
  let child: ChildProcess
  try {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    return `redis-server could not be started: ${String(error)}`
  }
  let exitReason: string | null = null
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      exitReason = error.code === 'ENOENT' ? 'redis-server is not installed (Debian: apt-get install redis-server)' : String(error)
      resolve()
    })
    child.once('exit', (code, signal) => {
      exitReason ??= `redis-server exited (${String(code ?? signal)})`
      resolve()
    })
  })
  const stop = async (): Promise<void> => {
    if (exitReason === null) {
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined) // refused until the server listens
    const answer = await Promise.race([client.ping().catch(() => null), exited.then(() => null)])
    client.disconnect()
    if (answer === 'PONG') return { port, stop }
    if (exitReason !== null) {
      await stop()
      return exitReason
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stop()
  return 'redis-server did not answer within 10 s'
}

let streams = 0

export function redisPeers(Redis: RedisClass, server: RedisServer): Peer[] {
  const open = (autoPipelining: boolean): { client: RedisClient; key: string; close: () => Promise<void> } => {
    const client = new Redis({ host: '127.0.0.1', port: server.port, enableAutoPipelining: autoPipelining })
    const key = `log:${++streams}`
    return {
      client,
      key,
      close: async () => {
        await client.del(key)
        await client.quit()
      },
    }
  }
  const write = (client: RedisClient, key: string, count: number): Promise<void> =>
    inBatches(count, async (start, end) => {
      const pipeline = client.pipeline()
      for (let i = start; i < end; i++) pipeline.xadd(key, '*', 'd', record(i))
      await pipeline.exec()
    })
  const batches: MakeTrial = async (_dir, count) => {
    const { client, key, close } = open(false)
    await client.ping()
    return { run: () => write(client, key, count), close }
  }
  const group: MakeTrial = async (_dir, count) => {
    const { client, key, close } = open(true)
    await client.ping()
    return { run: () => concurrently(count, (i) => client.xadd(key, '*', 'd', record(i))), close }
  }
  const read: MakeTrial = async (_dir, count) => {
    const { client, key, close } = open(false)
    await write(client, key, count)
    return {
      run: async () => {
        let found = 0
        let from = '-'
        for (;;) {
          const entries = await client.xrangeBuffer(key, from, '+', 'COUNT', 1000)
          if (entries.length === 0) break
          for (const [, fields] of entries) if (fields[1]?.length === 100) found++
          from = `(${entries[entries.length - 1]![0].toString()}`
        }
        expectCount('redis', found, count)
      },
      close,
    }
  }
  const everysec = 'not durable per call: the AOF is fsynced once a second'
  return [
    {
      name: 'Redis (AOF, everysec)',
      label: 'Redis (everysec)',
      trials: { append: batches, durable: batches, group, read },
      readChecks: 'none (`XRANGE`, 1,000 entries a call)',
      notes: {
        append: '`XADD`, 1,000 per pipeline, over loopback TCP',
        durable: `the same pipelines: ${everysec}`,
        group: `\`await xadd()\` from each writer (auto-pipelined): ${everysec}`,
        latency: '`XREAD BLOCK` in another process',
      },
    },
  ]
}
