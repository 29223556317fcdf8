// A reader's writer that closes the file without finishing it is not a finished file: the
// reader reports FileState.Closed (opened before the close or after it), its followers end with
// ERR_AOF_WRITER_CLOSED after every committed byte, and with { waitForWriter: true } they wait
// for the next writer process and go on with what it appends, ending at finish(). A finished
// file stays EOF, for readers opened before or after its writer's close. README, "Where a
// follower stands"; docs/ERRORS.md.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, ErrorCode, FileState, tailLog } from '../../src/index.ts'
import type { FileReader, ReadEvent } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { logEntry } from '../helpers/log-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Starts a writer session (writer-session.ts) and waits until it has written. */
async function session(t: TestContext, path: string, first: number, count: number, end: 'close' | 'finish'): Promise<Child> {
  const child = spawnHelper('writer-session.ts', [path, String(first), String(count), end], { stdin: true })
  t.after(() => child.process.kill('SIGKILL'))
  await child.waitFor('written\n')
  return child
}

/** Ends a session (its close() or finish()) and waits for the process to exit cleanly. */
async function endSession(child: Child): Promise<void> {
  child.process.stdin!.write('end\n')
  const { code } = await child.exited
  assert.equal(code, 0, child.stderr())
}

/** Polls `condition` until it holds, up to a deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

interface Followers {
  /** The raw bytes tail() gave, and how it ended. */
  tail: Promise<{ bytes: Buffer; error: unknown }>
  /** The entries tailLog gave (their indexes), and how it ended. */
  log: Promise<{ indexes: number[]; error: unknown }>
  /** The bytes a tailer was given, whether it saw eof, and its close reason. */
  tailer: Promise<{ bytes: Buffer; eof: boolean; reason: unknown }>
}

/** Follows `reader` with tail(), tailLog and a tailer, each collecting what it is given. */
function follow(reader: FileReader): Followers {
  const tail = (async () => {
    const chunks: Buffer[] = []
    try {
      for await (const chunk of reader.tail()) chunks.push(Buffer.from(chunk))
      return { bytes: Buffer.concat(chunks), error: null }
    } catch (error) {
      return { bytes: Buffer.concat(chunks), error }
    }
  })()
  const log = (async () => {
    const indexes: number[] = []
    try {
      for await (const { data } of tailLog(reader)) {
        const index = new DataView(data.buffer, data.byteOffset).getUint32(0, true)
        assert.deepEqual(Buffer.from(data), Buffer.from(logEntry(index)))
        indexes.push(index)
      }
      return { indexes, error: null }
    } catch (error) {
      return { indexes, error }
    }
  })()
  const tailer = new Promise<{ bytes: Buffer; eof: boolean; reason: unknown }>((resolve) => {
    const chunks: Buffer[] = []
    let eof = false
    const subscribed = reader.subscribe({
      pollRead: (event: ReadEvent) => {
        chunks.push(Buffer.from(event.tail))
        if (event.eof) {
          eof = true
          subscribed.close('done')
        }
        return event.end
      },
      pollReadClosed: (reason) => resolve({ bytes: Buffer.concat(chunks), eof, reason }),
    })
  })
  return { tail, log, tailer }
}

const range = (first: number, count: number): number[] => Array.from({ length: count }, (_, k) => first + k)

/** The data bytes of a closed or finished file: what recovery keeps, i.e. up to the last magic. */
function dataOf(path: string, size: number): Buffer {
  return readFileSync(path).subarray(0, size)
}

describe('a reader whose writer closed the file without finishing it', () => {
  it('opened before the close: state Closed; tail(), tailLog and a tailer end with ERR_AOF_WRITER_CLOSED after every byte', async (t) => {
    const path = join(tmpDir(t), 'closed.aof')
    const writer = await session(t, path, 0, 20, 'close')
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    assert.equal(reader.state, FileState.Opened)
    const followers = follow(reader)
    await endSession(writer)
    const size = reader.size
    const tail = await followers.tail
    assert.equal((tail.error as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
    assert.deepEqual(tail.bytes, dataOf(path, size))
    const log = await followers.log
    assert.equal((log.error as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
    assert.deepEqual(log.indexes, range(0, 20))
    const tailer = await followers.tailer
    assert.equal((tailer.reason as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
    assert.deepEqual([tailer.bytes, tailer.eof], [dataOf(path, size), false])
    assert.deepEqual([reader.state, reader.closed], [FileState.Closed, false])
  })

  it('opened after the close: state Closed, not EOF; its followers end with ERR_AOF_WRITER_CLOSED after the data', async (t) => {
    const path = join(tmpDir(t), 'closed-before.aof')
    await endSession(await session(t, path, 0, 7, 'close'))
    const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => reader.close())
    assert.deepEqual([reader.state, reader.closed], [FileState.Closed, false])
    assert.equal((reader.failure as { code?: unknown } | null)?.code, 'ERR_AOF_WRITER_CLOSED')
    const followers = follow(reader)
    const log = await followers.log
    assert.equal((log.error as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
    assert.deepEqual(log.indexes, range(0, 7))
    const tail = await followers.tail
    assert.equal((tail.error as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
    assert.deepEqual(tail.bytes, dataOf(path, reader.size))
    assert.equal(((await followers.tailer).reason as { code?: unknown }).code, 'ERR_AOF_WRITER_CLOSED')
  })

  it('a finished file is EOF, for readers opened before its writer closed it and after: followers end normally', async (t) => {
    const path = join(tmpDir(t), 'finished.aof')
    const writer = await session(t, path, 0, 9, 'finish')
    const before = AppendOnlyFile.openReader(path, { checkIntervalMs: 20 })
    t.after(() => before.close())
    const followersBefore = follow(before)
    await endSession(writer)
    for (const reader of [before, AppendOnlyFile.openReader(path, { waitForWriter: true }), AppendOnlyFile.openReader(path)]) {
      t.after(() => reader.close())
      assert.equal(reader.state, FileState.EOF)
      assert.equal(reader.failure, null)
      const followers = reader === before ? followersBefore : follow(reader)
      assert.deepEqual(await followers.log, { indexes: range(0, 9), error: null })
      assert.deepEqual(await followers.tail, { bytes: dataOf(path, reader.size), error: null })
      const tailer = await followers.tailer
      assert.deepEqual([tailer.eof, tailer.reason], [true, 'done'])
    }
  })

  it('with waitForWriter, followers wait through the close and go on with the next writer process, to its finish()', async (t) => {
    const path = join(tmpDir(t), 'restarted.aof')
    const first = await session(t, path, 0, 12, 'close')
    const early = AppendOnlyFile.openReader(path, { waitForWriter: true, checkIntervalMs: 20 })
    t.after(() => early.close())
    assert.equal(early.waitForWriter, true)
    const followersEarly = follow(early)
    await endSession(first)
    await until(() => early.state === FileState.Closed, 'the reader to see the close')
    assert.equal(early.failure, null, 'waiting for a writer is no failure')
    // A reader opened while no writer has the file waits for one as well.
    const late = AppendOnlyFile.openReader(path, { waitForWriter: true, checkIntervalMs: 20 })
    t.after(() => late.close())
    assert.deepEqual([late.state, late.failure], [FileState.Closed, null])
    const followersLate = follow(late)
    // The next writer, another process: what it appends reaches followers that did not end.
    const second = await session(t, path, 12, 8, 'close')
    await until(() => early.state === FileState.Opened && late.state === FileState.Opened, 'the readers to see the new writer')
    await endSession(second)
    const third = await session(t, path, 20, 5, 'finish')
    await endSession(third)
    for (const [reader, followers] of [[early, followersEarly], [late, followersLate]] as const) {
      assert.deepEqual(await followers.log, { indexes: range(0, 25), error: null })
      assert.deepEqual(await followers.tail, { bytes: dataOf(path, reader.size), error: null })
      const tailer = await followers.tailer
      assert.deepEqual([tailer.bytes, tailer.eof, tailer.reason], [dataOf(path, reader.size), true, 'done'])
      assert.equal(reader.state, FileState.EOF)
    }
  })

  it('waitForWriter must be a boolean', (t) => {
    const path = join(tmpDir(t), 'options.aof')
    const file = AppendOnlyFile.open(path, { create: true })
    t.after(() => file.close())
    assert.throws(() => AppendOnlyFile.openReader(path, { waitForWriter: 'yes' as unknown as boolean }), { code: ErrorCode.InvalidArgument })
  })
})
