import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { restore } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'
import { aof } from './fixtures.ts'

// salvage rewrites a state log with a damaged entry in its current epoch (which open refuses)
// so that it opens again: it says what it would leave out (--dry-run), asks, keeps a copy, and
// leaves out entries by offset (--skip) for an update the application cannot decode.
async function damagedLog(path: string): Promise<number[]> {
  const store = await StateStore.open({ path, initial: 0, apply: (sum: number, n: number) => sum + n, snapshotEvery: 0 })
  for (let k = 1; k <= 5; k++) await store.update(k)
  await store.close()
  const offsets: number[] = []
  const restored = restore(path)
  for (const _ of restored.updates) offsets.push(restored.updates.entryOffset)
  const bytes = readFileSync(path)
  bytes[offsets[1]! + 17] = bytes[offsets[1]! + 17]! ^ 0x01
  writeFileSync(path, bytes)
  return offsets
}

test('salvage rewrites a state log with a damaged entry in its current epoch', async (t) => {
  const dir = tmpDir(t)
  const path = join(dir, 'sum.log')
  const offsets = await damagedLog(path)
  const before = readFileSync(path)
  assert.equal((await aof(['state', path])).status, 1)
  const dry = await aof(['salvage', '--dry-run', path])
  assert.equal(dry.status, 1)
  assert.match(dry.stdout, new RegExp(`leave out: bytes ${offsets[1]}\\.\\.${offsets[2]}`))
  assert.match(dry.stdout, /keep: no snapshot, then 4 update\(s\)/)
  const declined = await aof(['salvage', path], { input: 'n\n' })
  assert.equal(declined.status, 1)
  assert.match(declined.stderr, /ERR_DECLINED/)
  assert.deepEqual(readFileSync(path), before)
  const done = await aof(['salvage', '--json', path], { input: 'y\n' })
  assert.equal(done.status, 0, done.stderr)
  const result = JSON.parse(done.stdout) as { action: string; updates: number; backup: string }
  assert.deepEqual([result.action, result.updates], ['salvaged', 4])
  assert.deepEqual(readFileSync(result.backup), before)
  const store = await StateStore.open({ path, initial: 0, apply: (sum: number, n: number) => sum + n })
  assert.equal(store.state, 1 + 3 + 4 + 5)
  await store.close()
  assert.match((await aof(['salvage', path])).stdout, /nothing to leave out/)
  // --skip leaves out an entry by the offset an ERR_STATE_ENTRY_REJECTED names.
  const skipped = await aof(['salvage', '--yes', '--skip', String(offsets[0]), '--backup', join(dir, 'kept'), path])
  assert.equal(skipped.status, 0, skipped.stderr)
  assert.ok(existsSync(join(dir, 'kept')))
  assert.deepEqual([...restore(path).updates].map((u) => Buffer.from(u).toString()), ['3', '4', '5'])
  assert.equal((await aof(['salvage', '--skip', 'x', path])).status, 2)
})
