/**
 * lmdb (lmdb-js): a memory-mapped B+tree; `put()` queues the write and commits everything
 * queued in one event-loop turn as one transaction on a worker thread. Integer keys in order,
 * binary values. Without fsync: `noSync: true`. Durable: the default `overlappingSync`, where
 * `db.flushed` resolves once the last commit is on disk.
 * @module
 */
import { join } from 'node:path'

import { comparedPackage } from '../harness.ts'
import { concurrently, expectCount, inBatches, record, type MakeTrial, type Peer } from './common.ts'

interface Database {
  put(key: number, value: Uint8Array): Promise<boolean>
  readonly flushed: Promise<unknown>
  getRange(options?: object): Iterable<{ key: number; value: Uint8Array }>
  close(): Promise<void>
}
type Open = (options: { path: string; keyEncoding: 'uint32'; encoding: 'binary'; noSync?: boolean }) => Database

export async function lmdbPeers(): Promise<Peer[]> {
  const module = await comparedPackage<{ open: Open }>('lmdb')
  if (module === null) return []
  const open = (dir: string, noSync: boolean): Database =>
    module.open({ path: join(dir, 'lmdb'), keyEncoding: 'uint32', encoding: 'binary', ...(noSync ? { noSync } : {}) })
  const batches =
    (noSync: boolean): MakeTrial =>
    (dir, count) => {
      const db = open(dir, noSync)
      return {
        run: () =>
          inBatches(count, async (start, end) => {
            let last: Promise<boolean> | undefined
            for (let i = start; i < end; i++) last = db.put(i, record(i))
            await last
            if (!noSync) await db.flushed
          }),
        close: () => db.close(),
      }
    }
  const group: MakeTrial = (dir, count) => {
    const db = open(dir, false)
    return {
      run: () =>
        concurrently(count, async (i) => {
          await db.put(i, record(i))
          await db.flushed
        }),
      close: () => db.close(),
    }
  }
  const read: MakeTrial = async (dir, count) => {
    const db = open(dir, true)
    await inBatches(count, async (start, end) => {
      let last: Promise<boolean> | undefined
      for (let i = start; i < end; i++) last = db.put(i, record(i))
      await last
    })
    return {
      run: () => {
        let found = 0
        for (const { value } of db.getRange()) if (value.length === 100) found++
        expectCount('lmdb', found, count)
      },
      close: () => db.close(),
    }
  }
  return [
    {
      name: 'lmdb',
      label: 'lmdb',
      trials: { append: batches(true), durable: batches(false), group, read },
      readChecks: 'none: LMDB keeps no checksums (`getRange()`)',
      notes: {
        append: '`put()` × 1,000 (one transaction), `noSync: true`',
        durable: '`put()` × 1,000 (one transaction), then `await db.flushed`',
        group: '`await put()` then `await db.flushed` (lmdb commits what a turn queued together)',
        latency: 'cannot: no change notification across processes (a reader polls)',
      },
    },
  ]
}
