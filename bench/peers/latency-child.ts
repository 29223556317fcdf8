/**
 * The reader process of the write-to-observe latency runs of bench/peers.bench.ts:
 *   node --import tsx bench/peers/latency-child.ts <aofkit|watch|redis> <path or port:key> <records>
 * Prints `ready`, then, once it has seen every record, the latencies (ns) as JSON: each record's
 * first 8 bytes hold the writer's `process.hrtime.bigint()`, subtracted from the same clock on
 * arrival.
 * @module
 */
import '../built.ts'
import { closeSync, openSync, readSync, watch } from 'node:fs'

import { AppendOnlyFile } from '../../dist/index.js'
import { RECORD_SIZE } from './common.ts'
import { redisClass } from './redis.ts'

const [kind, target = '', totalText = '0'] = process.argv.slice(2)
const total = Number(totalText)

/** Latencies of the whole records in `chunk` (a record may span two chunks). */
function observer(): { out: number[]; observe: (chunk: Uint8Array) => void } {
  const out: number[] = []
  let carry = new Uint8Array(0)
  return {
    out,
    observe: (chunk) => {
      const now = process.hrtime.bigint()
      let data = chunk
      if (carry.length > 0) {
        data = new Uint8Array(carry.length + chunk.length)
        data.set(carry)
        data.set(chunk, carry.length)
      }
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
      let at = 0
      for (; at + RECORD_SIZE <= data.length; at += RECORD_SIZE) out.push(Number(now - view.getBigUint64(at, true)))
      carry = data.slice(at)
    },
  }
}

function aofkit(path: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const reader = AppendOnlyFile.openReader(path)
    const { out, observe } = observer()
    const tailer = reader.subscribe({
      pollRead(event) {
        observe(event.tail)
        if (out.length >= total) {
          queueMicrotask(() => {
            tailer.close()
            reader.close()
            resolve(out)
          })
        }
        return event.end
      },
      pollReadClosed(reason) {
        if (out.length < total) reject(new Error(`reader closed early: ${String(reason)}`))
      },
    })
    process.stdout.write('ready\n')
  })
}

function fsWatch(path: string): Promise<number[]> {
  return new Promise((resolve) => {
    const fd = openSync(path, 'r')
    const buffer = Buffer.allocUnsafe(64 * 1024)
    const { out, observe } = observer()
    let position = 0
    const watcher = watch(path, () => {
      for (;;) {
        const count = readSync(fd, buffer, 0, buffer.length, position)
        if (count === 0) break
        position += count
        observe(buffer.subarray(0, count))
      }
      if (out.length >= total) {
        watcher.close()
        closeSync(fd)
        resolve(out)
      }
    })
    process.stdout.write('ready\n')
  })
}

async function redis(address: string): Promise<number[]> {
  const Redis = await redisClass()
  if (Redis === null) throw new Error('ioredis is not installed')
  const colon = address.indexOf(':')
  const port = address.slice(0, colon)
  const key = address.slice(colon + 1)
  const client = new Redis({ host: '127.0.0.1', port: Number(port) })
  await client.ping()
  process.stdout.write('ready\n')
  const { out, observe } = observer()
  let last = '0'
  while (out.length < total) {
    const streams = await client.xreadBuffer('BLOCK', 0, 'COUNT', 1000, 'STREAMS', key, last)
    for (const [, entries] of streams ?? []) {
      for (const [id, fields] of entries) {
        if (fields[1] !== undefined) observe(fields[1])
        last = id.toString()
      }
    }
  }
  client.disconnect()
  return out
}

const out = kind === 'aofkit' ? await aofkit(target) : kind === 'watch' ? await fsWatch(target) : await redis(target)
process.stdout.write(JSON.stringify(out))
