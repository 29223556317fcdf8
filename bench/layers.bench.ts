/**
 * What each layer above the append-only file adds to an append: the same 100 B payloads
 * appended through `AppendOnlyFile.write`, the record log (`LogWriter` on an
 * `AppendOnlyFileSink`), the state log (`StateWriter.update`, `sync: 'none'`, kept in an
 * AppendOnlyFile) and the journal (`Journal.append`), each in a fresh file or directory with
 * the default geometry, in one run, interleaved: one repetition of every subject, then the
 * next. Prints each layer's rate, its ratio to `write()` and what it adds per append; with
 * `--durable`, every subject also makes its appends durable every 1,000 (`sync()`), against
 * `fs.writeSync` through a 64 KiB buffer + `fs.fsyncSync`.
 *
 *   node --import tsx bench/layers.bench.ts [--json] [--durable] [--reps 5] [--records 200000]
 * @module
 */
import './built.ts'
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { AppendOnlyFile, AppendOnlyFileSink, Journal, LogWriter, StateWriter } from '../dist/index.js'
import { machine, median, nowNs, rate, table, turn } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    durable: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
    records: { type: 'string', default: '200000' },
    size: { type: 'string', default: '100' },
  },
})

const REPS = Number(args.reps)
const RECORDS = Number(args.records)
const SIZE = Number(args.size)
/** Records between event-loop turns, and between syncs with --durable. */
const EVERY = 1000
const BUFFER_BYTES = 64 * 1024

/** One prepared run: `batch(payload, count)` appends `count` payloads; `sync()` makes them durable. */
interface Run {
  batch(payload: Uint8Array, count: number): void
  sync(): Promise<void> | void
  dispose(): Promise<void>
}

interface Subject {
  key: string
  name: string
  prepare(dir: string): Promise<Run>
}

const subjects: Subject[] = [
  {
    key: 'write',
    name: 'AppendOnlyFile.write',
    prepare(dir) {
      const file = AppendOnlyFile.open(join(dir, 'file.aof'), { create: true, geometry: { sizeUpper: 1 << 30 } })
      return Promise.resolve({
        batch(payload, count) {
          for (let i = 0; i < count; i++) file.write(payload)
        },
        sync: () => file.sync(),
        dispose: () => file.close(),
      })
    },
  },
  {
    key: 'log',
    name: 'record log: LogWriter → AppendOnlyFileSink',
    prepare(dir) {
      const file = AppendOnlyFile.open(join(dir, 'log.aof'), { create: true, geometry: { sizeUpper: 1 << 30 } })
      const log = new LogWriter(new AppendOnlyFileSink(file))
      return Promise.resolve({
        batch(payload, count) {
          for (let i = 0; i < count; i++) log.append(payload)
        },
        sync: () => file.sync(),
        dispose: () => file.close(),
      })
    },
  },
  {
    key: 'state',
    name: "state log: StateWriter.update (sync: 'none')",
    async prepare(dir) {
      const writer = await StateWriter.open(join(dir, 'state.aof'), { sync: 'none', appendOnlyFile: { geometry: { sizeUpper: 1 << 30 } } })
      return {
        batch(payload, count) {
          // Not awaited: with sync 'none' an update is written when the call returns.
          for (let i = 0; i < count; i++) void writer.update(payload)
        },
        sync: () => writer.sync(),
        dispose: () => writer.close(),
      }
    },
  },
  {
    key: 'journal',
    name: 'journal: Journal.append',
    async prepare(dir) {
      const journal = await Journal.open(join(dir, 'journal'), { create: true })
      return {
        batch(payload, count) {
          for (let i = 0; i < count; i++) journal.append(payload)
        },
        sync: () => journal.sync(),
        dispose: () => journal.close(),
      }
    },
  },
]

const baseline: Subject = {
  key: 'buffered',
  name: 'fs.writeSync, 64 KiB buffer (+ fs.fsyncSync)',
  prepare(dir) {
    const fd = openSync(join(dir, 'plain.log'), 'w')
    const buffer = new Uint8Array(BUFFER_BYTES)
    let used = 0
    const flush = (): void => {
      if (used > 0) writeSync(fd, buffer, 0, used)
      used = 0
    }
    return Promise.resolve({
      batch(payload, count) {
        for (let i = 0; i < count; i++) {
          if (used + payload.length > BUFFER_BYTES) flush()
          buffer.set(payload, used)
          used += payload.length
        }
      },
      sync() {
        flush()
        fsyncSync(fd)
      },
      dispose() {
        flush()
        closeSync(fd)
        return Promise.resolve()
      },
    })
  },
}

const all = args.durable ? [...subjects, baseline] : subjects

/** Appends RECORDS payloads in a fresh directory, a turn of the event loop (and a sync) every EVERY; records/s. */
async function once(subject: Subject, payload: Uint8Array): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-layers-'))
  try {
    const run = await subject.prepare(dir)
    await turn()
    const start = nowNs()
    for (let done = 0; done < RECORDS; done += EVERY) {
      run.batch(payload, Math.min(EVERY, RECORDS - done))
      if (args.durable) await run.sync()
      else await turn()
    }
    const seconds = (nowNs() - start) / 1e9
    await run.dispose()
    return RECORDS / seconds
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const payload = new Uint8Array(randomBytes(SIZE))
const rates = new Map<string, number[]>(all.map((subject) => [subject.key, []]))
// Warm-up: one short run of each.
for (const subject of all) await once(subject, payload)
for (let rep = 0; rep < REPS; rep++) {
  for (const subject of all) rates.get(subject.key)!.push(await once(subject, payload))
  if (!args.json) process.stderr.write(`  repetition ${rep + 1}/${REPS}\n`)
}

const write = median(rates.get('write')!)
const rows = all.map((subject) => {
  const all = rates.get(subject.key)!
  const perSecond = median(all)
  return {
    key: subject.key,
    name: subject.name,
    recordsPerSecond: perSecond,
    vsWrite: perSecond / write,
    addedNs: 1e9 / perSecond - 1e9 / write,
    spread: [Math.min(...all), Math.max(...all)],
  }
})

if (args.json) {
  console.log(JSON.stringify({ machine: machine(), size: SIZE, records: RECORDS, reps: REPS, durable: args.durable, rows }, null, 2))
} else {
  console.log(machine())
  console.log(
    `${SIZE} B payloads, ${RECORDS} per run, ${args.durable ? `sync() every ${EVERY}` : `an event-loop turn every ${EVERY}`}; median of ${REPS} interleaved runs, each in a fresh file`,
  )
  const header = ['subject', 'records/s', 'spread', '× write()', 'ns added per append']
  const body = rows.map((row) => [
    row.name,
    rate(row.recordsPerSecond),
    `${rate(row.spread[0]!)} – ${rate(row.spread[1]!)}`,
    row.vsWrite.toFixed(2),
    row.key === 'write' ? '' : row.addedNs.toFixed(0),
  ])
  console.log(table([header, ...body], [false, true, true, true, true]))
}
