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

interface Judged {
  action: string
  offset?: number
  end?: number
  code?: string
}

/** What inspect says a repair would do, and what recover --dry-run then does: they must agree. */
async function judgements(path: string): Promise<{ inspect: Judged; recover: Judged; inspectContent: string }> {
  const inspected = JSON.parse((await aof(['inspect', '--json', path])).stdout) as { repair: Judged; content: string }
  const before = readFileSync(path)
  const dry = await aof(['recover', '--dry-run', '--json', path])
  assert.deepEqual(readFileSync(path), before, `${path}: a dry run changes nothing`)
  let recover: Judged
  if (dry.stdout !== '') {
    const report = JSON.parse(dry.stdout) as { action: string; cut: { offset: number; size: number } | null }
    recover =
      report.cut === null ? { action: 'none' } : { action: 'cut', offset: report.cut.offset, end: report.cut.offset + report.cut.size }
  } else {
    recover = { action: 'refuse', code: /^aof: (\w+):/.exec(dry.stderr)?.[1] ?? dry.stderr }
  }
  const { action, offset, end, code } = inspected.repair
  const inspect: Judged = action === 'cut' ? { action, offset: offset!, end: end! } : action === 'refuse' ? { action, code: code! } : { action }
  return { inspect, recover, inspectContent: inspected.content }
}

test('inspect and recover agree on every damaged copy: what is cut, or why nothing is', async () => {
  const damaged: string[] = []
  const { files } = fixture
  let k = 0
  const copy = (kind: 'flip' | 'cut', path: string, at: number): void => {
    const to = join(fixture.dir, `agree-${k++}`)
    damaged.push(kind === 'flip' ? flipByte(path, to, at) : truncatedCopy(path, to, at))
  }
  for (const path of [files.rawFinished, files.rawClosed, files.logAof, files.logPlain, files.stateAof, files.statePlain, files.bigEntryLog]) {
    damaged.push(path)
    const used = Math.min(sizeOf(path), 200_000)
    for (const at of [0, 5, 20, Math.floor(used / 2), used - 20, used - 9, used - 3]) if (at >= 0 && at < sizeOf(path)) copy('flip', path, at)
    for (const at of [1, 30, Math.floor(used / 3), used - 1]) if (at > 0 && at < sizeOf(path)) copy('cut', path, at)
  }
  const actions = new Set<string>()
  for (const path of damaged) {
    const { inspect, recover } = await judgements(path)
    assert.deepEqual(recover, inspect, path)
    actions.add(inspect.action)
  }
  assert.deepEqual([...actions].sort(), ['cut', 'none', 'refuse'])
})

test('a damaged append-only file holding a log: inspect shows the log and the cut recover makes', async () => {
  const bad = flipByte(fixture.files.stateAof, join(fixture.dir, 'state-bad-2.aof'), 165)
  const inspected = JSON.parse((await aof(['inspect', '--json', bad])).stdout) as {
    content: string
    dataSize: number
    damage: { begin: number; end: number }[]
  }
  assert.equal(inspected.content, 'state log')
  assert.equal(inspected.dataSize, 162)
  assert.deepEqual(inspected.damage.map((range) => [range.begin, range.end]), [[162, 170]])
  const text = await aof(['inspect', bad])
  assert.match(text.stdout, /kind\s+append-only file holding state log\n/)
  assert.match(text.stdout, /repair\s+aof recover cuts bytes 162\.\.170 \(8 B\)/)
  const dry = await aof(['recover', '--dry-run', bad])
  assert.match(dry.stdout, /holding state log\n\s+damaged tail: bytes 162\.\.170/)
})

test('a writer killed with SIGKILL after its last commit: inspect and recover both say what the next open does', async (t) => {
  const path = join(fixture.dir, 'died.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [path, '--initial', '3'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')
  writer.process.kill('SIGKILL')
  await writer.exited
  const inspected = await aof(['inspect', path])
  assert.equal(inspected.status, 0)
  assert.match(inspected.stdout, /state\s+writer died/)
  assert.match(inspected.stdout, /repair\s+nothing to repair: its writer \(pid \d+\) died with every write committed: the next open keeps the data up to the sidecar's committed size \d+/)
  const recovered = await aof(['recover', path])
  assert.equal(recovered.status, 0)
  assert.match(recovered.stdout, /nothing to repair: its writer \(pid \d+\) died with every write committed/)
  const { inspect, recover } = await judgements(path)
  assert.deepEqual(recover, inspect)
})
