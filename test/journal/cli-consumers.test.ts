import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { aof } from '../cli/fixtures.ts'
import { journalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

test('aof consumers lists consumers with their lag, resets and deletes one', async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const journal = await Journal.open(dir, { create: true, segmentBytes: 4096 })
  t.after(() => journal.close())
  for (let position = 0; position < 300; position++) journal.append(journalEntry(position))
  const billing = await Journal.openConsumer(dir, 'billing')
  await billing.commit(99)
  const audit = await Journal.openConsumer(dir, 'audit', { from: 'end' })
  await audit.close()

  const listed = await aof(['consumers', dir])
  assert.equal(listed.status, 0, listed.stderr)
  assert.match(listed.stdout, /^consumer\s+committed\s+lag\s+lag bytes\s+instance\s+retention\n/)
  assert.match(listed.stdout, /\naudit\s+299\s+0\s+0 B\s+-\s+-\n/)
  assert.match(listed.stdout, /\nbilling\s+99\s+200\s+\d+ B \(.*\)\s+open\s+-\n/)

  const json = JSON.parse((await aof(['consumers', '--json', dir])).stdout) as { consumers: { name: string; committed: number; lag: number }[] }
  assert.deepEqual(
    json.consumers.map(({ name, committed, lag }) => [name, committed, lag]),
    [
      ['audit', 299, 0],
      ['billing', 99, 200],
    ],
  )

  const refused = await aof(['consumers', dir, '--reset', 'billing', '--to', '10'])
  assert.equal(refused.status, 1)
  assert.match(refused.stderr, /ERR_AOF_LOCKED/)
  await billing.close()
  const reset = await aof(['consumers', dir, '--reset', 'billing', '--to', '10'])
  assert.equal(reset.status, 0, reset.stderr)
  assert.equal((await Journal.consumers(dir)).find((info) => info.name === 'billing')?.committed, 10)
  assert.equal((await aof(['consumers', dir, '--delete', 'audit'])).status, 0)
  assert.deepEqual(
    (await Journal.consumers(dir)).map((info) => info.name),
    ['billing'],
  )
  assert.equal((await aof(['consumers', dir, '--reset', 'billing'])).status, 2)
  assert.equal((await aof(['consumers', dir, '--to', '3'])).status, 2)
  const notJournal = await aof(['consumers', tmpDir(t)])
  assert.equal(notJournal.status, 1)
  assert.match(notJournal.stderr, /ERR_JOURNAL_NOT_A_JOURNAL/)
})
