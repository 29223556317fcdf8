/**
 * The reader side of the live-reader benchmarks (bench/tail-latency.bench.ts and the latency
 * runs of bench/peers.bench.ts), one reader per process or worker thread:
 *
 *   node --import tsx bench/latency-child.ts <mode> <target> <records> <record bytes>
 *
 * `target` is the file followed, or `port:key` of a Redis stream. It prints `ready` once it
 * follows, then, once it has seen `records` records, what it measured as JSON: the latency of
 * each record (ns), its first 8 bytes being the writer's `process.hrtime.bigint()` subtracted
 * from the same monotonic clock on arrival; for the catch-up modes, the nanoseconds a full read
 * of `records` bytes took. In a worker thread (test/helpers/worker-entry.mjs) the same comes
 * from `workerData` ({ mode, target, records, recordBytes }) and goes back as messages
 * ({ ready: true }, then { result }).
 * @module
 */
import './built.ts'
import { closeSync, openSync, readSync, watch } from 'node:fs'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'

import { AppendOnlyFile, sidecarPath } from '../dist/index.js'
import { ShmOffset } from '../dist/aof/shm.js'
import { loadCommittedSize } from '../dist/aof/committed-size.js'
import * as native from '../dist/native/binding.js'
import { redisClass } from './peers/redis.ts'

/** How the reader follows. */
type ReaderMode =
  /** `openReader` + `tail()`, the async iterator. */
  | 'aof-tail'
  /** `openReader` + `subscribe()`, the callback form. */
  | 'aof-subscribe'
  /** `openReader({ busyPoll: true })` + `tail()`. */
  | 'aof-busy'
  /** Diagnostics: aofkit's wake-up alone (see readSidecarWatch). */
  | 'sidecar-watch'
  | 'sidecar-fs-watch'
  /** The baseline: a plain file followed with `fs.watch` + `fs.readSync`. */
  | 'watch'
  /** The npm `tail` package (text lines holding the stamp). */
  | 'tail'
  /** Redis `XREAD BLOCK` on a stream (bench/peers.bench.ts). */
  | 'redis'
  /** Catch-up: a full read of a finished file, through `openReader` + `tail()` or `fs.readSync`. */
  | 'catchup-aof'
  | 'catchup-read'

/** Latencies (ns) of the whole records in each chunk, a record possibly split across two. */
function observer(total: number, recordBytes: number): { out: number[]; observe: (chunk: Uint8Array) => void; done: () => boolean } {
  const out: number[] = []
  let carry = new Uint8Array(0)
  return {
    out,
    done: () => out.length >= total,
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
      for (; at + recordBytes <= data.length; at += recordBytes) out.push(Number(now - view.getBigUint64(at, true)))
      carry = data.slice(at)
    },
  }
}

async function tailAof(path: string, total: number, recordBytes: number, busyPoll: boolean, ready: () => void): Promise<number[]> {
  const reader = AppendOnlyFile.openReader(path, { busyPoll })
  const { out, observe, done } = observer(total, recordBytes)
  ready()
  for await (const chunk of reader.tail()) {
    observe(chunk)
    if (done()) break
  }
  reader.close()
  return out
}

/** The callback form: the reader's consumer is polled straight from the wake-up, no promise. */
function subscribeAof(path: string, total: number, recordBytes: number, ready: () => void): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const reader = AppendOnlyFile.openReader(path)
    const { out, observe, done } = observer(total, recordBytes)
    const tailer = reader.subscribe({
      pollRead(event) {
        observe(event.tail)
        if (done()) {
          queueMicrotask(() => {
            tailer.close()
            reader.close()
            resolve(out)
          })
        }
        return event.end
      },
      pollReadClosed(reason) {
        if (!done()) reject(new Error(`reader closed early: ${String(reason)}`))
      },
    })
    ready()
  })
}

/**
 * A diagnostic, not a product path: the wake-up mechanism aofkit's readers use (an inotify
 * watch on the `-shm` sidecar, which the writer pokes; or fs.watch on it, the fallback) with
 * nothing else around it, reading the data with readSync as the fs.watch baseline does. The gap
 * between this row and the openReader rows is the cost of aofkit's reader code; the gap
 * between it and the baseline, that of the mechanism.
 */
function readSidecarWatch(path: string, total: number, recordBytes: number, viaFsWatch: boolean, ready: () => void): Promise<number[]> {
  return new Promise((resolve) => {
    const fd = openSync(path, 'r')
    // Count ourselves a waiter in the sidecar, as FileReader does, so that the writer pokes;
    // read the committed size from it, as FileReader does, and exactly those bytes.
    const shmFd = openSync(sidecarPath(path), 'r+')
    const mapping = native.map(shmFd, 4096, true)
    const words = new Int32Array(mapping)
    // fs.watch sees writes only: ask the writer to poke with one, as FileReader does.
    if (viaFsWatch) Atomics.add(words, ShmOffset.writeWatchers / 4, 1)
    Atomics.add(words, ShmOffset.waiters / 4, 1)
    const { out, observe, done } = observer(total, recordBytes)
    let position = 0
    const onWake = (): void => {
      const end = loadCommittedSize(words)
      if (end <= position) return
      const buffer = Buffer.allocUnsafe(end - position)
      readSync(fd, buffer, 0, buffer.length, position)
      position = end
      observe(buffer)
      if (done()) {
        watcher.close()
        Atomics.sub(words, ShmOffset.waiters / 4, 1)
        if (viaFsWatch) Atomics.sub(words, ShmOffset.writeWatchers / 4, 1)
        resolve(out)
      }
    }
    const watcher = viaFsWatch ? watch(sidecarPath(path), onWake) : native.watchFile(sidecarPath(path), onWake)!
    ready()
  })
}

function readWatch(path: string, total: number, recordBytes: number, ready: () => void): Promise<number[]> {
  return new Promise((resolve) => {
    const fd = openSync(path, 'r')
    const buffer = Buffer.allocUnsafe(64 * 1024)
    const { out, observe, done } = observer(total, recordBytes)
    let position = 0
    const watcher = watch(path, () => {
      for (;;) {
        const count = readSync(fd, buffer, 0, buffer.length, position)
        if (count === 0) break
        position += count
        observe(buffer.subarray(0, count))
      }
      if (done()) {
        watcher.close()
        closeSync(fd)
        resolve(out)
      }
    })
    ready()
  })
}

async function readTail(path: string, total: number, ready: () => void): Promise<number[]> {
  // The npm `tail` package (bench/package.json: npm install --prefix bench): text lines,
  // fs.watch underneath.
  const specifier = 'tail' // no type declarations: keep tsc from resolving it
  const { Tail } = (await import(specifier).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error('the npm tail package, a baseline, is not installed: run npm install --prefix bench', { cause: error })
    }
    throw error
  })) as {
    Tail: new (path: string, options: object) => {
      on(event: 'line', listener: (line: string) => void): void
      on(event: 'error', listener: (error: unknown) => void): void
      unwatch(): void
    }
  }
  return new Promise((resolve, reject) => {
    const out: number[] = []
    const tail = new Tail(path, { fromBeginning: true })
    tail.on('line', (line) => {
      out.push(Number(process.hrtime.bigint() - BigInt(line)))
      if (out.length === total) {
        tail.unwatch()
        resolve(out)
      }
    })
    tail.on('error', reject)
    ready()
  })
}

async function readRedis(address: string, total: number, recordBytes: number, ready: () => void): Promise<number[]> {
  const Redis = await redisClass()
  if (Redis === null) throw new Error('ioredis is not installed: run npm install --prefix bench')
  const colon = address.indexOf(':')
  const client = new Redis({ host: '127.0.0.1', port: Number(address.slice(0, colon)) })
  const key = address.slice(colon + 1)
  await client.ping()
  ready()
  const { out, observe, done } = observer(total, recordBytes)
  // From the stream's start (a fresh key): an entry added before the first XREAD is not missed.
  let last = '0'
  while (!done()) {
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

async function catchUpAof(path: string, bytes: number): Promise<number> {
  const start = process.hrtime.bigint()
  const reader = AppendOnlyFile.openReader(path)
  let read = 0
  for await (const chunk of reader.tail()) read += chunk.length
  reader.close()
  const ns = Number(process.hrtime.bigint() - start)
  if (read !== bytes) throw new Error(`read ${read} bytes, expected ${bytes}`)
  return ns
}

function catchUpRead(path: string, bytes: number): number {
  const chunk = 1024 * 1024
  const start = process.hrtime.bigint()
  const fd = openSync(path, 'r')
  const buffer = Buffer.allocUnsafe(chunk)
  let read = 0
  for (;;) {
    const count = readSync(fd, buffer, 0, chunk, read)
    if (count === 0) break
    read += count
  }
  closeSync(fd)
  const ns = Number(process.hrtime.bigint() - start)
  if (read < bytes) throw new Error(`read ${read} bytes, expected ${bytes}`)
  return ns
}

/** Follows `target` as `mode` says; `ready` once it follows (before the first record is written). */
async function runReader(mode: ReaderMode, target: string, records: number, recordBytes: number, ready: () => void): Promise<unknown> {
  switch (mode) {
    case 'aof-tail':
      return tailAof(target, records, recordBytes, false, ready)
    case 'aof-busy':
      return tailAof(target, records, recordBytes, true, ready)
    case 'aof-subscribe':
      return subscribeAof(target, records, recordBytes, ready)
    case 'sidecar-watch':
      return readSidecarWatch(target, records, recordBytes, false, ready)
    case 'sidecar-fs-watch':
      return readSidecarWatch(target, records, recordBytes, true, ready)
    case 'watch':
      return readWatch(target, records, recordBytes, ready)
    case 'tail':
      return readTail(target, records, ready)
    case 'redis':
      return readRedis(target, records, recordBytes, ready)
    case 'catchup-aof':
      ready()
      return catchUpAof(target, records)
    case 'catchup-read':
      ready()
      return catchUpRead(target, records)
  }
}

if (!isMainThread && parentPort !== null) {
  const { mode, target, records, recordBytes } = workerData as { mode: ReaderMode; target: string; records: number; recordBytes: number }
  const port = parentPort
  const result = await runReader(mode, target, records, recordBytes, () => port.postMessage({ ready: true }))
  port.postMessage({ result })
} else {
  const [mode, target = '', records = '0', recordBytes = '16'] = process.argv.slice(2)
  const result = await runReader(mode as ReaderMode, target, Number(records), Number(recordBytes), () => process.stdout.write('ready\n'))
  process.stdout.write(JSON.stringify(result))
}
