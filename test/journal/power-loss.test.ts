// The journal under simulated power loss (an ext4 filesystem on a loop device, shut down with
// FS_IOC_SHUTDOWN and NOLOGFLUSH at a random moment, then mounted again): a writer doing random
// appends, batches, syncs, rolls, retention and consumer commits; after each cut the journal
// reopens, every entry acknowledged by a resolved sync() is there, every position still names
// the bytes written at it, and the consumer's committed position is at least every commit that
// resolved. Needs root and a loop device (skipped otherwise). AOFKIT_SOAK=1 runs more cuts.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Journal } from '../../src/index.ts'
import { prng } from '../helpers/child.ts'
import { isJournalEntry } from '../helpers/journal-entries.ts'
import { powerLossDisk, runUntilPowerCut } from '../helpers/power-loss.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'

const CUTS = SOAK ? 30 : 2

/** The largest N of the lines `<kind> N` in `stdout` (a line cut short only lowers it). */
function lastLine(stdout: string, kind: string, none: number): number {
  let last = none
  for (const match of stdout.matchAll(new RegExp(`^${kind} (\\d+)$`, 'gm'))) last = Math.max(last, Number(match[1]))
  return last
}

test('journal: what sync() and commit() acknowledged survives a power cut', { timeout: SOAK ? 1_800_000 : 120_000 }, async (t) => {
  const disk = await powerLossDisk(t)
  if (disk === null) return
  const dir = join(disk.dir, 'journal')
  const seed = Number(process.env['AOFKIT_CRASH_SEED'] ?? Date.now() % 1_000_000)
  const random = prng(seed)
  let committedBefore = -1
  for (let cut = 0; cut < CUTS; cut++) {
    const context = `cut ${cut} (AOFKIT_CRASH_SEED=${seed})`
    const delayMs = random() < 0.2 ? Math.floor(random() * 20) : 20 + Math.floor(random() * 300)
    const run = await runUntilPowerCut(disk, 'journal-crash-child.ts', [dir, String(seed + cut)], { ready: 'ready', delayMs })
    const synced = lastLine(run.stdout, 's', 0)
    const committed = lastLine(run.stdout, 'c', -1)

    const journal = await Journal.open(dir)
    try {
      const next = journal.nextPosition
      assert.ok(next >= synced, `${context}: next position ${next} < synced ${synced}`)
      let expected = journal.firstPosition
      for (const entry of journal.read()) {
        assert.equal(entry.position, expected, context)
        assert.ok(isJournalEntry(entry.position, entry.data), `${context}: entry ${entry.position} has other bytes`)
        expected++
      }
      assert.equal(expected, next, context)
    } finally {
      await journal.close()
    }
    const [info] = await Journal.consumers(dir)
    assert.ok(info !== undefined, context)
    assert.ok(info.committed >= committed, `${context}: committed ${info.committed} < acknowledged ${committed}`)
    assert.ok(info.committed >= committedBefore, `${context}: committed went back`)
    committedBefore = info.committed
  }
  t.diagnostic(`${disk.cuts} power cuts`)
})
