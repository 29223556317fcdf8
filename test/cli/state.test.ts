import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { aof, flipByte, sizeOf, writeFixtures } from './fixtures.ts'
import type { Fixtures } from './fixtures.ts'

// state restores a state log (plain or in an append-only file); compact rewrites it to start
// at its latest snapshot.
let dir = ''
let files: Fixtures
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aofkit-cli-state-'))
  files = await writeFixtures(dir)
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('state shows the epoch, the snapshot size and the update count', () => {
  const run = aof(['state', files.statePlain])
  assert.equal(run.status, 0)
  assert.match(run.stdout, /epoch\s+81\n/)
  assert.match(run.stdout, /snapshot\s+5 B\n/)
  assert.match(run.stdout, /updates\s+2 since the snapshot \(4 B\)/)
  const json = JSON.parse(aof(['state', '--json', files.stateAof]).stdout) as Record<string, unknown>
  assert.deepEqual(
    { epoch: json['epoch'], snapshotSize: json['snapshotSize'], updates: json['updates'], container: json['container'] },
    { epoch: 81, snapshotSize: 5, updates: 2, container: 'append-only file' },
  )
  assert.equal(aof(['state', '--snapshot', files.statePlain]).stdout, 'snap2')
})

test('state of a damaged log exits 1 with one line; of a record log exits 2', () => {
  const damaged = aof(['state', flipByte(files.statePlain, join(dir, 'flip.log'), 150)])
  assert.equal(damaged.status, 1)
  assert.match(damaged.stderr, /^aof: ERR_LOG_\w+: .*\n$/)
  const wrong = aof(['state', files.logPlain])
  assert.equal(wrong.status, 2)
  assert.match(wrong.stderr, /^aof: ERR_WRONG_KIND: .* holds record log, not a state log\n$/)
})

test('compact rewrites a plain state log and one in an append-only file', () => {
  for (const path of [files.statePlain, files.stateAof]) {
    const run = aof(['compact', '--json', path])
    assert.equal(run.status, 0, run.stderr)
    const result = JSON.parse(run.stdout) as Record<string, unknown>
    assert.deepEqual(
      { compacted: result['compacted'], sizeBefore: result['sizeBefore'], sizeAfter: result['sizeAfter'], epochBefore: result['epochBefore'] },
      { compacted: true, sizeBefore: path === files.statePlain ? 162 : result['sizeBefore'], sizeAfter: 81, epochBefore: 81 },
    )
    const state = JSON.parse(aof(['state', '--json', path]).stdout) as Record<string, unknown>
    assert.deepEqual([state['epoch'], state['snapshotSize'], state['updates']], [0, 5, 2])
    assert.match(aof(['compact', path]).stdout, /^ok: .*nothing to drop/)
    assert.equal(aof(['verify', path]).status, 0)
  }
  assert.equal(sizeOf(files.statePlain), 81)
  assert.equal(aof(['compact', files.rawFinished]).status, 2)
})
