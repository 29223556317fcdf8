/**
 * classic-level: LevelDB. Keys are the record's number (8 bytes, big-endian, so in order),
 * values the record; `batch()` of 1,000 puts, `sync: false` or `sync: true`. Concurrent
 * `put(..., { sync: true })` calls are grouped by LevelDB itself (its writer queue).
 * @module
 */
import { join } from 'node:path'

import { comparedPackage } from '../harness.ts'
import { concurrently, expectCount, inBatches, record, type MakeTrial, type Peer } from './common.ts'

interface Iterator {
  nextv(size: number): Promise<Uint8Array[]>
  close(): Promise<void>
}
interface Level {
  open(): Promise<void>
  batch(operations: { type: 'put'; key: Uint8Array; value: Uint8Array }[], options: { sync: boolean }): Promise<void>
  put(key: Uint8Array, value: Uint8Array, options: { sync: boolean }): Promise<void>
  values(): Iterator
  close(): Promise<void>
}
type LevelClass = new (path: string, options: { keyEncoding: 'view'; valueEncoding: 'view' }) => Level

function key(index: number): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(index))
  return bytes
}

export async function levelPeers(): Promise<Peer[]> {
  const module = await comparedPackage<{ ClassicLevel: LevelClass }>('classic-level')
  if (module === null) return []
  const open = async (dir: string): Promise<Level> => {
    const db = new module.ClassicLevel(join(dir, 'level'), { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    return db
  }
  const write = (db: Level, count: number, sync: boolean): Promise<void> =>
    inBatches(count, async (start, end) => {
      const operations = []
      for (let i = start; i < end; i++) operations.push({ type: 'put' as const, key: key(i), value: record(i) })
      await db.batch(operations, { sync })
    })
  const batches =
    (sync: boolean): MakeTrial =>
    async (dir, count) => {
      const db = await open(dir)
      return { run: () => write(db, count, sync), close: () => db.close() }
    }
  const group: MakeTrial = async (dir, count) => {
    const db = await open(dir)
    return { run: () => concurrently(count, (i) => db.put(key(i), record(i), { sync: true })), close: () => db.close() }
  }
  const read: MakeTrial = async (dir, count) => {
    const db = await open(dir)
    await write(db, count, false)
    return {
      run: async () => {
        const values = db.values()
        let found = 0
        for (;;) {
          const some = await values.nextv(1000)
          if (some.length === 0) break
          for (const value of some) if (value.length === 100) found++
        }
        await values.close()
        expectCount('classic-level', found, count)
      },
      close: () => db.close(),
    }
  }
  return [
    {
      name: 'classic-level (LevelDB)',
      label: 'classic-level',
      trials: { append: batches(false), durable: batches(true), group, read },
      readChecks: 'none by default: LevelDB checks block crc32c only with `verify_checksums`, which classic-level does not set',
      notes: {
        append: '`batch()` of 1,000, `sync: false`',
        durable: '`batch()` of 1,000, `sync: true`',
        group: '`put(..., { sync: true })`, LevelDB grouping concurrent writes into one log write',
        latency: 'cannot: one process holds the database (its LOCK file)',
      },
    },
  ]
}
