/**
 * better-sqlite3 (v12): SQLite in WAL mode, a table `(seq INTEGER PRIMARY KEY, data BLOB)`,
 * one transaction per 1,000 records. Without fsync: `synchronous = OFF`; durable:
 * `synchronous = FULL` (WAL synced at every commit). The API is synchronous, so concurrent
 * writers are grouped by hand: those waiting at a turn of the event loop share one transaction.
 * @module
 */
import { join } from 'node:path'

import { comparedPackage } from '../harness.ts'
import { SharedCommit, concurrently, expectCount, inBatches, record, turn, type MakeTrial, type Peer } from './common.ts'

interface Statement {
  run(...values: unknown[]): unknown
  pluck(): Statement
  iterate(): Iterable<Uint8Array>
}
interface Database {
  pragma(text: string): unknown
  exec(sql: string): void
  prepare(sql: string): Statement
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void
  close(): void
}
type DatabaseClass = new (path: string) => Database

export async function sqlitePeers(): Promise<Peer[]> {
  const module = await comparedPackage<{ default: DatabaseClass }>('better-sqlite3')
  if (module === null) return []
  const open = (dir: string, synchronous: 'OFF' | 'FULL'): { db: Database; insert: (start: number, end: number) => void } => {
    const db = new module.default(join(dir, 'log.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    db.exec('CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)')
    const statement = db.prepare('INSERT INTO log (data) VALUES (?)')
    const insert = db.transaction((start: number, end: number) => {
      for (let i = start; i < end; i++) statement.run(record(i))
    })
    return { db, insert }
  }
  const batches =
    (synchronous: 'OFF' | 'FULL'): MakeTrial =>
    (dir, count) => {
      const { db, insert } = open(dir, synchronous)
      return {
        run: () =>
          inBatches(count, async (start, end) => {
            insert(start, end)
            await turn()
          }),
        close: () => db.close(),
      }
    }
  const group: MakeTrial = (dir, count) => {
    const { db } = open(dir, 'FULL')
    const statement = db.prepare('INSERT INTO log (data) VALUES (?)')
    let pending: number[] = []
    const insertAll = db.transaction((indexes: number[]) => {
      for (const i of indexes) statement.run(record(i))
    })
    const commit = new SharedCommit(async () => {
      await turn()
      const now = pending
      pending = []
      insertAll(now)
    })
    return {
      run: () =>
        concurrently(count, (i) => {
          pending.push(i)
          return commit.sync()
        }),
      close: () => db.close(),
    }
  }
  const read: MakeTrial = async (dir, count) => {
    const { db, insert } = open(dir, 'OFF')
    await inBatches(count, (start, end) => insert(start, end))
    const select = db.prepare('SELECT data FROM log ORDER BY seq').pluck()
    return {
      run: () => {
        let found = 0
        for (const data of select.iterate()) if (data.length === 100) found++
        expectCount('better-sqlite3', found, count)
      },
      close: () => db.close(),
    }
  }
  return [
    {
      name: 'better-sqlite3 (WAL)',
      label: 'better-sqlite3',
      trials: { append: batches('OFF'), durable: batches('FULL'), group, read },
      readChecks: 'none on reading (WAL frames carry checksums, checked only at recovery)',
      notes: {
        append: 'transactions of 1,000, `synchronous = OFF`',
        durable: 'transactions of 1,000, `synchronous = FULL`',
        group: 'writers waiting at a turn share one transaction (by hand: the API is synchronous)',
        latency: 'cannot: no change notification across processes (a reader polls)',
      },
    },
  ]
}
