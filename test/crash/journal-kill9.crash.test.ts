// Kill -9 of a journal writer at random instants of appends, batches, rolls, retention and
// consumer commits; after each kill: every position names the same bytes, every append that
// returned is there, no batch is cut, a committed position never goes back, retention deleted
// nothing the consumer had not committed, and a restarted consumer resumes right after its
// commit. Short here; AOFKIT_SOAK=1 runs many more rounds.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { prng, spawnHelper } from '../helpers/child.ts'
import { isJournalEntry } from '../helpers/journal-entries.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'
const ROUNDS = SOAK ? 150 : 6

interface Printed {
  appended: number
  synced: number
  committed: number
  batches: Array<{ first: number; count: number }>
}

function parse(stdout: string): Printed {
  const printed: Printed = { appended: 0, synced: 0, committed: -1, batches: [] }
  for (const line of stdout.split('\n')) {
    const [kind, a, b] = line.split(' ')
    if (kind === 'a') printed.appended = Math.max(printed.appended, Number(a))
    else if (kind === 's') printed.synced = Math.max(printed.synced, Number(a))
    else if (kind === 'c') printed.committed = Math.max(printed.committed, Number(a))
    else if (kind === 'B') printed.batches.push({ first: Number(a), count: Number(b) })
  }
  return printed
}

test(`journal: kill -9 at random instants, ${ROUNDS} rounds`, { timeout: SOAK ? 3_600_000 : 120_000 }, async (t) => {
  const dir = join(tmpDir(t), 'journal')
  const seed = Number(process.env['JOURNAL_CRASH_SEED'] ?? Date.now() % 1_000_000)
  t.diagnostic(`seed ${seed} (JOURNAL_CRASH_SEED replays it)`)
  const random = prng(seed)
  let committedBefore = -1
  let appendedBefore = 0
  for (let round = 0; round < ROUNDS; round++) {
    const child = spawnHelper('journal-crash-child.ts', [dir, String(seed + round)])
    await child.waitFor('ready')
    // Let it work for a random while, then kill it wherever it is.
    const work = 5 + Math.floor(random() * 120)
    await new Promise((resolve) => setTimeout(resolve, work))
    child.process.kill('SIGKILL')
    const ended = await child.exited
    assert.equal(ended.signal, 'SIGKILL', `round ${round}: the child ended by itself: ${child.stderr()}`)
    const printed = parse(child.stdout())

    const journal = await Journal.open(dir)
    try {
      const next = journal.nextPosition
      const first = journal.firstPosition
      // Every append that returned is there (a process crash loses nothing the kernel has).
      assert.ok(next >= Math.max(printed.appended, printed.synced, appendedBefore), `round ${round}: next ${next} < appended ${printed.appended}`)
      // No batch is cut.
      for (const { first: start, count } of printed.batches) {
        assert.ok(next <= start || next >= start + count, `round ${round}: batch [${start}, ${start + count}) cut at ${next}`)
      }
      // Every position names the same bytes.
      let expected = first
      for (const entry of journal.read()) {
        assert.equal(entry.position, expected, `round ${round}`)
        assert.ok(isJournalEntry(entry.position, entry.data), `round ${round}: entry ${entry.position} has other bytes`)
        expected++
      }
      assert.equal(expected, next)
      appendedBefore = next
    } finally {
      await journal.close()
    }

    // The committed position never goes back, is at least what a resolved commit said, and
    // retention kept everything after it.
    const [info] = await Journal.consumers(dir)
    assert.ok(info !== undefined)
    assert.ok(info.committed >= printed.committed, `round ${round}: committed ${info.committed} < acknowledged ${printed.committed}`)
    assert.ok(info.committed >= committedBefore, `round ${round}: committed went back from ${committedBefore} to ${info.committed}`)
    committedBefore = info.committed
    if (info.lag === 0) continue
    const consumer = await Journal.openConsumer(dir, 'crash')
    try {
      for await (const entry of consumer) {
        assert.equal(entry.position, info.committed + 1, `round ${round}: the consumer resumes right after its commit`)
        break
      }
    } finally {
      await consumer.close()
    }
  }
})
