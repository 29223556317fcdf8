/**
 * A named pipe where a journal keeps a file that readers open (a segment's offset and time
 * indexes, a consumer's position file): opening a pipe for reading waits for a writer to open
 * it, for good. Readers, `aof inspect` and `aof consumers` must end instead, each in a process of
 * its own that the test kills at a deadline rather than block itself.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'

import { Journal } from '../../src/index.ts'
import { offsetIndexPath, timeIndexPath } from '../../src/journal/layout.ts'
import { positionPath } from '../../src/journal/consumer-position.ts'
import { spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { killed } from '../helpers/time-ring-checks.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { until } from '../helpers/until.ts'

/** Puts a named pipe in place of the file at `path`. */
function pipeAt(path: string): void {
  rmSync(path, { force: true })
  execFileSync('mkfifo', [path])
}

/** Waits for `child` to end (it must, before the deadline), then its stdout. */
async function ended(t: TestContext, child: Child, what: string): Promise<string> {
  t.after(() => killed(child))
  let done = false
  void child.exited.then(() => (done = true))
  try {
    await until(() => done, what)
  } finally {
    await killed(child)
  }
  return child.stdout()
}

test('named pipes at a finished segment\'s indexes and at a consumer\'s position file: readers, aof inspect and aof consumers end, and read every entry', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  for (let k = 0; k < 200; k++) journal.append(new Uint8Array(50).fill(k))
  await journal.sync()
  const consumer = await Journal.openConsumer(dir, 'billing', { from: 'start' })
  await consumer.commit(10)
  await consumer.close()
  await journal.close()
  pipeAt(offsetIndexPath(dir, 0))
  pipeAt(timeIndexPath(dir, 0))
  pipeAt(positionPath(dir, 'billing'))

  const read = JSON.parse(await ended(t, spawnHelper('journal-read-child.ts', [dir]), 'the reader to end')) as Array<[number, number]>
  assert.deepEqual(
    read.map(([position]) => position),
    Array.from({ length: 200 }, (_, k) => k),
  )
  for (const [position, time] of read) assert.ok(time > 0, `entry ${position}: time ${time}`)
  assert.match(await ended(t, spawnHelper('../../src/cli/main.ts', ['inspect', '--json', dir]), 'aof inspect to end'), /"nextPosition": ?200/)
  // The consumer is listed with what is wrong with its position file.
  assert.match(await ended(t, spawnHelper('../../src/cli/main.ts', ['consumers', '--json', dir]), 'aof consumers to end'), /ERR_AOF_NOT_REGULAR_FILE/)
})
