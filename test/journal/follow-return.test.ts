import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import type { Child } from '../helpers/child.ts'
import { journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

/** Runs the child that calls return() on a waiting follow(); it must answer and exit by itself. */
async function returnWhileWaiting(t: { after: (fn: () => void) => void }, dir: string): Promise<void> {
  const child: Child = spawnHelper('journal-child.ts', ['return', dir])
  t.after(() => child.process.kill('SIGKILL'))
  await child.waitFor('returned true true')
  assert.equal((await child.exited).code, 0, child.stderr())
}

test('return() on a follow() that waits ends it at once, and the reader no longer holds its process', { timeout: 120_000 }, async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true })
  for (let position = 0; position < 10; position++) journal.append(journalEntry(position))
  // Waiting for the writer's next entry.
  await returnWhileWaiting(t, dir)
  // Waiting, without a writer, for one to open the journal again (a change in the directory).
  await journal.close()
  await returnWhileWaiting(t, dir)
})
