import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { AppendOnlyFile, AppendOnlyFileSink, ErrorCode, LogWriter, Manager, tailLog } from '../../src/index.ts'
import type { AofkitError, LogEntry } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { logEntry } from '../helpers/log-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function openLog(path: string, manager: Manager): { file: AppendOnlyFile; writer: LogWriter } {
  const file = manager.open(path, { create: true })
  return { file, writer: new LogWriter(new AppendOnlyFileSink(file)) }
}

async function collect(iterator: AsyncIterable<LogEntry>, into: LogEntry[]): Promise<unknown> {
  try {
    for await (const entry of iterator) into.push({ offset: entry.offset, data: entry.data.slice() })
    return null
  } catch (error) {
    return error
  }
}

function checkEntries(entries: LogEntry[], first = 0): void {
  entries.forEach((entry, at) => {
    const index = first + at
    assert.deepEqual(entry.data, logEntry(index), `entry ${index}`)
  })
}

test('same process: a follower started before the first append sees every entry, in order, then ends at finish', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const { file, writer } = openLog(join(tmpDir(t), 'log.aof'), manager)
  const seen: LogEntry[] = []
  const following = collect(tailLog(file), seen)
  const offsets: number[] = []
  for (let index = 0; index < 3000; index++) {
    offsets.push(writer.append(logEntry(index)))
    // Several ticks with many appends each: the follower wakes once per tick.
    if (index % 700 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await file.finish()
  assert.equal(await following, null)
  assert.equal(seen.length, 3000)
  checkEntries(seen)
  assert.deepEqual(
    seen.map((entry) => entry.offset),
    offsets,
  )
  await file.close()
})

test('same process: from an entry offset, the follower starts at that entry', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const { file, writer } = openLog(join(tmpDir(t), 'log.aof'), manager)
  const offsets: number[] = []
  for (let index = 0; index < 1200; index++) offsets.push(writer.append(logEntry(index)))
  await file.finish()
  const seen: LogEntry[] = []
  assert.equal(await collect(tailLog(file, { from: offsets[777]! }), seen), null)
  assert.equal(seen.length, 1200 - 777)
  checkEntries(seen, 777)
  await assert.rejects(async () => {
    for await (const entry of tailLog(file, { from: -1 })) void entry
  }, { code: ErrorCode.InvalidArgument })
  await file.close()
})

test('same process: an abort signal stops a waiting follower; closing the file ends it', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const { file, writer } = openLog(join(tmpDir(t), 'log.aof'), manager)
  writer.append(logEntry(0))
  const controller = new AbortController()
  const seen: LogEntry[] = []
  const following = collect(tailLog(file, { signal: controller.signal }), seen)
  await new Promise((resolve) => setImmediate(resolve))
  controller.abort()
  const error = (await following) as Error
  assert.equal(error.name, 'AbortError')
  assert.equal(seen.length, 1)

  const second: LogEntry[] = []
  const untilClose = collect(tailLog(file), second)
  await new Promise((resolve) => setImmediate(resolve))
  writer.append(logEntry(1))
  await new Promise((resolve) => setImmediate(resolve))
  await file.close()
  assert.equal(await untilClose, null)
  assert.equal(second.length, 2)
})

test('same process: a corrupt record ends the follower, or is reported and skipped with onCorrupt', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const { file, writer } = openLog(join(tmpDir(t), 'log.aof'), manager)
  const offsets: number[] = []
  for (let index = 0; index < 400; index++) offsets.push(writer.append(logEntry(index)))
  await file.finish()
  // Damage entry 10's data: the rest of its 32 KiB block is lost to the resync, as with the
  // reference; the entries of the following blocks still arrive.
  const bytes = file.contents()
  bytes[offsets[10]! + 20]! ^= 0xff
  const firstLost = 10
  const nextBlock = offsets.findIndex((offset) => offset >= 32768)

  const seen: LogEntry[] = []
  const error = (await collect(tailLog(file), seen)) as AofkitError
  assert.equal(error.code, ErrorCode.LogCorrupted)
  assert.equal(seen.length, firstLost)

  const reported: AofkitError[] = []
  const salvaged: LogEntry[] = []
  assert.equal(await collect(tailLog(file, { onCorrupt: (corrupt) => reported.push(corrupt) }), salvaged), null)
  assert.equal(reported.length, 1)
  checkEntries(salvaged.slice(0, firstLost))
  checkEntries(salvaged.slice(firstLost), nextBlock)
  assert.equal(salvaged.length, firstLost + 400 - nextBlock)
  await file.close()
})

/** The writer child (test/helpers/log-writer-child.ts); `count` is a number or 'forever'. */
function startWriter(path: string, count: string): Child {
  return spawnHelper('log-writer-child.ts', [path, count], { stdin: true })
}

/** The last progress line the writer printed: entries appended so far. */
function progress(writer: Child): number {
  const numbers = writer.stdout().split('\n').filter((line) => /^\d+$/.test(line))
  return numbers.length === 0 ? 0 : Number(numbers[numbers.length - 1])
}

test('other process: a reader opened before the first write follows a writer to its finish', async (t) => {
  const path = join(tmpDir(t), 'log.aof')
  const writer = startWriter(path, '20000')
  await writer.waitFor('ready\n')
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 50 })
  t.after(() => reader.close())
  const seen: LogEntry[] = []
  const following = collect(tailLog(reader), seen)
  writer.process.stdin!.write('go\n')
  assert.equal(await following, null)
  assert.equal(seen.length, 20000)
  checkEntries(seen)
  await writer.exited
})

test('other process: a writer killed with SIGKILL ends the follower with ERR_AOF_WRITER_DIED, after every entry it committed', async (t) => {
  const path = join(tmpDir(t), 'log.aof')
  const writer = startWriter(path, 'forever')
  await writer.waitFor('ready\n')
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
  t.after(() => reader.close())
  const seen: LogEntry[] = []
  let killed = false
  const following = (async () => {
    try {
      for await (const entry of tailLog(reader)) {
        seen.push({ offset: entry.offset, data: entry.data.slice() })
        if (!killed && seen.length >= 5000) {
          killed = true
          writer.process.kill('SIGKILL')
        }
      }
      return null
    } catch (error) {
      return error
    }
  })()
  writer.process.stdin!.write('go\n')
  const error = (await following) as AofkitError
  assert.equal(error.code, ErrorCode.WriterDied)
  assert.ok(seen.length >= 5000)
  checkEntries(seen)
  // Every entry the writer reported before dying reached the follower (the report follows the appends).
  assert.ok(seen.length >= progress(writer), `${seen.length} seen, ${progress(writer)} reported`)
})

test('same process: a follower that caught up 0..20 bytes before a block end gets the entries after the padding', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const dir = tmpDir(t)
  for (let gap = 0; gap <= 20; gap++) {
    const { file, writer } = openLog(join(dir, `gap-${gap}.aof`), manager)
    // 15 header bytes plus the data end `gap` bytes before the first block boundary.
    writer.append(new Uint8Array(32768 - gap - 15).fill(1))
    const seen: LogEntry[] = []
    const following = collect(tailLog(file), seen)
    await new Promise((resolve) => setImmediate(resolve))
    writer.append(new Uint8Array(10).fill(2))
    await new Promise((resolve) => setImmediate(resolve))
    writer.append(new Uint8Array(7).fill(3))
    await file.finish()
    assert.equal(await following, null, `gap ${gap}`)
    assert.deepEqual(
      seen.map((entry) => entry.data.length),
      [32768 - gap - 15, 10, 7],
      `gap ${gap}`,
    )
    await file.close()
  }
})

test('a reader follows a writer that closes without finishing to its last entry, then fails with ERR_AOF_WRITER_CLOSED; closing the reader ends it', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const path = join(tmpDir(t), 'log.aof')
  const { file, writer } = openLog(path, manager)
  const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
  const seen: LogEntry[] = []
  const following = collect(tailLog(reader), seen)
  for (let index = 0; index < 100; index++) writer.append(logEntry(index))
  // Closed before the follower ran at all: what was committed is still delivered.
  await file.close()
  // Not the end of a finished log: a distinct outcome, after every entry.
  assert.equal((await following as AofkitError | null)?.code, 'ERR_AOF_WRITER_CLOSED')
  assert.equal(seen.length, 100)
  checkEntries(seen)

  const second = AppendOnlyFile.openReader(path)
  const iterator = tailLog(second)
  const first = await iterator.next()
  assert.equal(first.done, false)
  second.close()
  assert.deepEqual(await iterator.next(), { done: true, value: undefined })
  reader.close()
})

test('a wrong from is ERR_AOF_INVALID_ARGUMENT, not corruption: inside a record, on a continuation record, past the end of a finished file', async (t) => {
  const manager = new Manager({ flushIntervalMs: 0 })
  const { file, writer } = openLog(join(tmpDir(t), 'log.aof'), manager)
  const offsets: number[] = []
  for (let index = 0; index < 20; index++) offsets.push(writer.append(logEntry(index)))
  const big = writer.append(new Uint8Array(70_000).fill(9))
  const end = writer.position
  await file.finish()
  t.after(() => file.close())
  for (const from of [5, (offsets[3] as number) + 1, big + 20, big - (big % 32768) + 32768, end + 1, end + 100_000]) {
    const error = await collect(tailLog(file, { from }), [])
    assert.ok((error as AofkitError | null)?.code === ErrorCode.InvalidArgument, `from ${from}: ${String(error)}`)
  }
  // The right ones still work, the end included.
  const seen: LogEntry[] = []
  assert.equal(await collect(tailLog(file, { from: offsets[19] as number }), seen), null)
  assert.equal(seen.length, 2)
  assert.equal(await collect(tailLog(file, { from: end }), []), null)
})
