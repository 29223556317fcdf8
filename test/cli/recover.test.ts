import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chmodSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { spawnHelper } from '../helpers/child.ts'
import { aof, flipByte, sizeOf, truncatedCopy, useFixtures } from './fixtures.ts'

// recover cuts a torn tail after asking, keeps a backup, and refuses live files and damage
// that is not at the tail.
const fixture = useFixtures('recover')

test('recover asks, and without a yes changes nothing', async () => {
  const torn = truncatedCopy(fixture.files.logPlain, join(fixture.dir, 'ask.log'), 150000)
  const declined = await aof(['recover', torn], { input: 'n\n' })
  assert.equal(declined.status, 1)
  assert.match(declined.stderr, /Cut 60 bytes from .*\? \[y\/N\]/)
  assert.match(declined.stderr, /aof: ERR_DECLINED: not confirmed/)
  assert.equal(sizeOf(torn), 150000)
  assert.equal((await aof(['recover', torn])).status, 1, 'no answer at all (stdin ends) is a no')
  assert.equal(sizeOf(torn), 150000)

  const accepted = await aof(['recover', torn], { input: 'y\n' })
  assert.equal(accepted.status, 0, accepted.stderr)
  assert.match(accepted.stdout, /recovered: cut 60 B at offset 149940; the bytes cut are in .*ask\.log\.cut-149940/)
  assert.equal(sizeOf(torn), 149940)
  assert.deepEqual(readFileSync(`${torn}.cut-149940`), readFileSync(fixture.files.logPlain).subarray(149940, 150000))
  assert.equal((await aof(['verify', torn])).status, 0)
  assert.match((await aof(['recover', torn])).stdout, /nothing to repair/)
})

test('recover --yes of a torn state log, --no-backup, --dry-run and --json', async () => {
  const torn = truncatedCopy(fixture.files.statePlain, join(fixture.dir, 'torn-state.log'), 150)
  const dry = await aof(['recover', '--dry-run', torn])
  assert.equal(dry.status, 1)
  assert.match(dry.stdout, /damaged tail: bytes 136\.\.150/)
  assert.equal(sizeOf(torn), 150)

  const run = await aof(['recover', '--yes', '--no-backup', '--json', torn])
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout) as { action: string; cutBytes: number; backup: string | null; cut: { offset: number } }
  assert.equal(report.action, 'cut')
  assert.equal(report.cut.offset, 136)
  assert.equal(report.cutBytes, 14)
  assert.equal(report.backup, null)
  assert.equal(sizeOf(torn), 136)
  assert.ok(!existsSync(`${torn}.cut-136`))
  assert.match((await aof(['state', torn])).stdout, /updates\s+1 since the snapshot/)
})

test('recover of an append-only file with a damaged tail cuts back to the last checkpoint', async () => {
  const bad = flipByte(fixture.files.rawFinished, join(fixture.dir, 'bad-tail.aof'), 240)
  chmodSync(bad, 0o444)
  const readOnly = await aof(['recover', '--yes', bad])
  assert.equal(readOnly.status, 1)
  assert.match(readOnly.stderr, /aof: ERR_AOF_READ_ONLY: .*chmod u\+w/)
  chmodSync(bad, 0o644)
  const run = await aof(['recover', '--yes', '--backup', join(fixture.dir, 'kept.bin'), bad])
  assert.equal(run.status, 0, run.stderr)
  assert.match(run.stdout, /recovered: cut 88 B at offset 158/)
  assert.equal(readFileSync(join(fixture.dir, 'kept.bin')).length, 88)
  const after = JSON.parse((await aof(['inspect', '--json', bad])).stdout) as { life: string; dataSize: number }
  assert.equal(after.life, 'closed, not finished')
  assert.equal(after.dataSize, 158)
})

test('recover refuses damage before the tail', async () => {
  const flipped = flipByte(fixture.files.logPlain, join(fixture.dir, 'flip.log'), 40000)
  const run = await aof(['recover', '--yes', flipped])
  assert.equal(run.status, 1)
  assert.match(run.stderr, /^aof: ERR_DAMAGED: the record log .* is damaged before its tail/)
  assert.equal(sizeOf(flipped), sizeOf(fixture.files.logPlain))
})

test('recover refuses a file a live writer holds', async (t) => {
  const path = join(fixture.dir, 'live.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [path, '--initial', '3'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')
  const run = await aof(['recover', '--yes', path])
  assert.equal(run.status, 1)
  assert.match(run.stderr, /^aof: ERR_AOF_LOCKED: a writer \(pid \d+\) has .* open: recover never touches a live file\n$/)
  writer.process.kill('SIGKILL')
  await writer.exited
})

test('recover of an append-only file holding a log keeps every entry that reads whole', async () => {
  // The MagicTail after the state log (data 0..162) damaged, no checkpoint: magic numbers alone
  // would cut back to nothing; the log reads whole up to 162.
  const bad = flipByte(fixture.files.stateAof, join(fixture.dir, 'state-bad.aof'), 165)
  const run = await aof(['recover', '--yes', '--json', bad])
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout) as { cut: { offset: number; size: number }; cutBytes: number }
  assert.deepEqual([report.cut.offset, report.cut.size, report.cutBytes], [162, 8, 8])
  const state = JSON.parse((await aof(['state', '--json', bad])).stdout) as Record<string, unknown>
  assert.deepEqual([state['epoch'], state['snapshotSize'], state['updates']], [81, 5, 2])
})
