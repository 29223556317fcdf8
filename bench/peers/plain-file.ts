/**
 * What a Node user writes by hand: `fs.writeSync` once per record; records gathered in a
 * 64 KiB buffer and written with `fs.writeSync` when it is full; and the same buffer holding a
 * framed log (u32 length + u32 crc32 per record), the smallest log a careful user writes that
 * can be checked on reading. Durability is `fs.fsyncSync`; the concurrent writers share one
 * `fdatasync` on the thread pool, started as soon as the previous one ends (group commit by
 * hand, the same rule as aofkit's).
 * @module
 */
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'

import { RECORD_SIZE, SharedCommit, concurrently, expectCount, fdatasyncAsync, inBatches, record, turn, type MakeTrial, type Peer } from './common.ts'

const crc32 = (zlib as unknown as { crc32: (data: Uint8Array) => number }).crc32
const BUFFER = 64 * 1024
const FRAME = 8

/** Appends records to a plain file, one way or another. */
interface Appender {
  append(index: number): void
  /** Writes out what is buffered. */
  drain(): void
}

function perRecord(fd: number): Appender {
  return { append: (i) => void writeSync(fd, record(i)), drain: () => undefined }
}

function buffered(fd: number, framed: boolean): Appender {
  const buffer = Buffer.allocUnsafe(BUFFER)
  let used = 0
  const drain = (): void => {
    if (used > 0) writeSync(fd, buffer, 0, used)
    used = 0
  }
  return {
    append(i) {
      const bytes = record(i)
      const size = bytes.length + (framed ? FRAME : 0)
      if (used + size > BUFFER) drain()
      if (framed) {
        buffer.writeUInt32LE(bytes.length, used)
        buffer.writeUInt32LE(crc32(bytes), used + 4)
        used += FRAME
      }
      buffer.set(bytes, used)
      used += bytes.length
    },
    drain,
  }
}

function trials(make: (fd: number) => Appender): Record<'append' | 'durable' | 'group', MakeTrial> {
  const opened = (dir: string): { fd: number; appender: Appender; close: () => void } => {
    const fd = openSync(join(dir, 'log.file'), 'a+')
    return { fd, appender: make(fd), close: () => closeSync(fd) }
  }
  return {
    append: (dir, count) => {
      const { appender, close } = opened(dir)
      return {
        run: async () => {
          await inBatches(count, async (start, end) => {
            for (let i = start; i < end; i++) appender.append(i)
            await turn()
          })
          appender.drain()
        },
        close,
      }
    },
    durable: (dir, count) => {
      const { fd, appender, close } = opened(dir)
      return {
        run: () =>
          inBatches(count, (start, end) => {
            for (let i = start; i < end; i++) appender.append(i)
            appender.drain()
            fsyncSync(fd)
          }),
        close,
      }
    },
    group: (dir, count) => {
      const { fd, appender, close } = opened(dir)
      const commit = new SharedCommit(() => {
        appender.drain()
        return fdatasyncAsync(fd)
      })
      return {
        run: () =>
          concurrently(count, (i) => {
            appender.append(i)
            return commit.sync()
          }),
        close,
      }
    },
  }
}

/** Reads the file in 1 MiB chunks; with `framed`, checks every record's crc32. */
function readTrial(framed: boolean): MakeTrial {
  return (dir, count) => {
    const path = join(dir, 'log.file')
    const fd = openSync(path, 'w')
    const appender = buffered(fd, framed)
    for (let i = 0; i < count; i++) appender.append(i)
    appender.drain()
    closeSync(fd)
    return {
      run: () => {
        const input = openSync(path, 'r')
        const chunk = Buffer.allocUnsafe(1 << 20)
        let found = 0
        let have = 0
        let offset = 0
        for (;;) {
          const read = readSync(input, chunk, have, chunk.length - have, offset)
          if (read === 0) break
          offset += read
          have += read
          let at = 0
          if (framed) {
            while (at + FRAME <= have) {
              const length = chunk.readUInt32LE(at)
              if (at + FRAME + length > have) break
              const entry = chunk.subarray(at + FRAME, at + FRAME + length)
              if (crc32(entry) !== chunk.readUInt32LE(at + 4)) throw new Error(`crc mismatch at record ${found}`)
              found++
              at += FRAME + length
            }
          } else {
            // Each record handed out as a view, as the other readers hand out theirs.
            for (; at + RECORD_SIZE <= have; at += RECORD_SIZE) if (chunk.subarray(at, at + RECORD_SIZE).length === RECORD_SIZE) found++
          }
          chunk.copyWithin(0, at, have)
          have -= at
        }
        closeSync(input)
        expectCount(framed ? 'framed log' : 'plain file', found, count)
      },
      close: () => undefined,
    }
  }
}

export const plainFilePeers: Peer[] = [
  {
    name: 'fs.writeSync per record',
      label: 'writeSync per record',
    trials: trials(perRecord),
    readChecks: 'reads like the buffered file (same bytes)',
    notes: {
      durable: '`fs.fsyncSync` after every 1,000 records',
      group: 'one `fdatasync` shared by the writers waiting (group commit by hand)',
      latency: '`fs.watch` + `fs.readSync` in another process',
    },
  },
  {
    name: 'fs.writeSync, 64 KiB buffer',
      label: 'writeSync, 64 KiB buffer',
    trials: { ...trials((fd) => buffered(fd, false)), read: readTrial(false) },
    readChecks: 'none: `fs.readSync` in 1 MiB chunks, a view per fixed-size record',
    notes: { latency: 'readers see nothing until the buffer is written' },
  },
  {
    name: 'framed log (length + crc32), 64 KiB buffer',
      label: 'framed log + crc32',
    trials: { ...trials((fd) => buffered(fd, true)), read: readTrial(true) },
    readChecks: 'crc32 (`node:zlib`) of every record, `fs.readSync` in 1 MiB chunks',
  },
]
