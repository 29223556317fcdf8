/**
 * sonic-boom, the asynchronous file writer under pino: `write()` queues, writes go out on the
 * thread pool. Buffers (`contentMode: 'buffer'`), `minLength: 4096` as pino recommends for an
 * asynchronous destination; `flush(cb)` writes what is queued and calls back after an fsync.
 * @module
 */
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'

import { comparedPackage } from '../harness.ts'
import { SharedCommit, concurrently, inBatches, record, turn, type MakeTrial, type Peer } from './common.ts'

interface SonicBoom {
  write(data: Uint8Array): boolean
  flush(callback?: (error?: Error | null) => void): void
  readonly _writing: boolean
  readonly _len: number
}
type SonicBoomClass = new (options: { fd: number; contentMode: 'buffer'; minLength: number }) => SonicBoom

function flushed(stream: SonicBoom): Promise<void> {
  return new Promise((resolve, reject) => stream.flush((error) => (error ? reject(error) : resolve())))
}

/** Waits until every queued write reached the kernel, without an fsync. */
async function landed(stream: SonicBoom): Promise<void> {
  while (stream._writing || stream._len > 0) {
    // flush() while a write is under way only lets that write finish: ask again after it.
    if (!stream._writing) stream.flush()
    await turn()
  }
}

export async function sonicBoomPeers(): Promise<Peer[]> {
  const module = await comparedPackage<{ default: SonicBoomClass }>('sonic-boom')
  if (module === null) return []
  const SonicBoom = module.default
  const opened = (dir: string): { stream: SonicBoom; close: () => Promise<void> } => {
    const fd = openSync(join(dir, 'log.file'), 'a')
    const stream = new SonicBoom({ fd, contentMode: 'buffer', minLength: 4096 })
    return {
      stream,
      close: async () => {
        await landed(stream)
        closeSync(fd)
      },
    }
  }
  const append: MakeTrial = (dir, count) => {
    const { stream, close } = opened(dir)
    return {
      run: async () => {
        await inBatches(count, async (start, end) => {
          for (let i = start; i < end; i++) stream.write(record(i))
          await turn()
        })
        await landed(stream)
      },
      close,
    }
  }
  const durable: MakeTrial = (dir, count) => {
    const { stream, close } = opened(dir)
    return {
      run: () =>
        inBatches(count, async (start, end) => {
          for (let i = start; i < end; i++) stream.write(record(i))
          await flushed(stream)
        }),
      close,
    }
  }
  const group: MakeTrial = (dir, count) => {
    const { stream, close } = opened(dir)
    const commit = new SharedCommit(() => flushed(stream))
    return {
      run: () =>
        concurrently(count, (i) => {
          stream.write(record(i))
          return commit.sync()
        }),
      close,
    }
  }
  return [
    {
      name: 'sonic-boom',
      label: 'sonic-boom',
      trials: { append, durable, group },
      readChecks: 'none: a write-only stream (its file reads like the plain file)',
      notes: {
        durable: '`flush(cb)` after every 1,000 records (it fsyncs)',
        group: 'one `flush(cb)` shared by the writers waiting (group commit by hand)',
        latency: 'as the plain file, once its asynchronous write has landed',
      },
    },
  ]
}
