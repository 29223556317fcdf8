/**
 * aofkit's own rows: `AppendOnlyFile.write()`, and the record log (`LogWriter` on an
 * AppendOnlyFile, read back by `LogReader`, which verifies every record's checksum).
 * @module
 */
import { join } from 'node:path'

import { AppendOnlyFile } from '../../dist/index.js'
import { LogReader } from '../../dist/log/log-reader.js'
import { LogWriter } from '../../dist/log/log-writer.js'
import { AppendOnlyFileSink } from '../../dist/log/sinks.js'
import { AppendOnlyFileSource } from '../../dist/log/sources.js'
import { RECORD_SIZE, concurrently, expectCount, inBatches, record, turn, type MakeTrial, type Peer } from './common.ts'

/**
 * The geometry a user picks for a log of this size: room for every record (the default
 * `sizeUpper`, 16 MiB, holds 160,000 of them), everything else the default (1 MiB steps).
 */
function open(dir: string, count: number): AppendOnlyFile {
  const sizeUpper = Math.max(16 << 20, Math.ceil((count * (RECORD_SIZE + 16) * 1.1) / (1 << 20)) << 20)
  return AppendOnlyFile.open(join(dir, 'log.aof'), { create: true, geometry: { sizeUpper } })
}

/** One way of appending a record: the file's own write(), or the record log's append(). */
type Append = (file: AppendOnlyFile) => (index: number) => void

function trials(append: Append): Record<'append' | 'durable' | 'group', MakeTrial> {
  /** Appends in batches, each followed by `end(file)`: a turn of the event loop, or a sync. */
  const batched =
    (end: (file: AppendOnlyFile) => Promise<unknown>): MakeTrial =>
    (dir, count) => {
      const file = open(dir, count)
      const one = append(file)
      return {
        run: () =>
          inBatches(count, async (start, stop) => {
            for (let i = start; i < stop; i++) one(i)
            await end(file)
          }),
        close: () => file.close(),
      }
    }
  return {
    append: batched(() => turn()),
    durable: batched((file) => file.sync()),
    group: (dir, count) => {
      const file = open(dir, count)
      const one = append(file)
      return {
        run: () =>
          concurrently(count, (i) => {
            one(i)
            return file.sync()
          }),
        close: () => file.close(),
      }
    },
  }
}

const write: Append = (file) => (i) => file.write(record(i))
const logAppend: Append = (file) => {
  const log = new LogWriter(new AppendOnlyFileSink(file))
  return (i) => log.append(record(i))
}

/** `writeBatch()` of each 1,000 records: one call, one commit. */
function batches(durable: boolean): MakeTrial {
  return (dir, count) => {
    const file = open(dir, count)
    return {
      run: () =>
        inBatches(count, async (start, end) => {
          const batch: Uint8Array[] = []
          for (let i = start; i < end; i++) batch.push(record(i))
          file.writeBatch(batch)
          await (durable ? file.sync() : turn())
        }),
      close: () => file.close(),
    }
  }
}

export const aofkitPeers: Peer[] = [
  {
    name: 'aofkit AppendOnlyFile write()',
    label: 'aofkit write()',
    aofkit: true,
    trials: trials(write),
    readChecks: 'no framing: read through the record log',
    notes: {
      durable: '`write()` × 1,000, then `await sync()`',
      group: '`write()` then `await sync()`, concurrent callers sharing one `fdatasync`',
      latency: '`openReader` + `subscribe()` in another process',
    },
  },
  {
    name: 'aofkit AppendOnlyFile writeBatch(), 1,000 a call',
    label: 'aofkit writeBatch()',
    aofkit: true,
    trials: { append: batches(false), durable: batches(true) },
    notes: { durable: '`writeBatch()` of 1,000, then `await sync()`' },
  },
  {
    name: 'aofkit LogWriter on an AppendOnlyFile',
    label: 'aofkit LogWriter',
    aofkit: true,
    trials: {
      ...trials(logAppend),
      read: async (dir, count) => {
        const file = open(dir, count)
        const log = new LogWriter(new AppendOnlyFileSink(file))
        for (let i = 0; i < count; i++) log.append(record(i))
        await file.sync()
        return {
          run: () => {
            let found = 0
            for (const entry of new LogReader(new AppendOnlyFileSource(file))) {
              if (entry.length === RECORD_SIZE) found++
            }
            expectCount('LogReader', found, count)
          },
          close: () => file.close(),
        }
      },
    },
    readChecks: 'XXH64 checksum of every record (`LogReader`)',
  },
]
