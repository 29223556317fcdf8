import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import type { SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { parseSeconds } from '../../src/cli/commands/demo.ts'
import { checkLedger } from '../../src/cli/demo/check.ts'
import { ACCOUNTS, OPENING_BALANCE, applyLedger, expectedLedger, initialLedger, ledgerOperation } from '../../src/cli/demo/ledger.ts'
import type { DemoJson } from '../../src/cli/demo/summary.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

function aof(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 120_000 })
}

describe('aof demo end to end', () => {
  test('follows a writer, kills it, restores, and passes its check', (t) => {
    const dir = tmpDir(t)
    const result = aof(['demo', '--seconds', '1', '--dir', dir])
    assert.equal(result.status, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /killed the writer \(pid \d+\) with SIGKILL/)
    assert.match(result.stdout, /the follower stopped: the writer died/)
    assert.match(result.stdout, /updates acknowledged\s+[1-9][\d,]*\n/)
    assert.match(result.stdout, /acknowledged updates lost\s+0\n/)
    assert.match(result.stdout, /follower latency\s+p50 .+, p99 .+, max /)
    assert.match(result.stdout, /recovery time\s+[\d.]+ ms/)
    assert.match(result.stdout, /check\s+PASS/)
    assert.ok(existsSync(join(dir, 'ledger.aof')), 'with --dir the files are kept')
  })

  test('--json prints the summary as JSON', (t) => {
    const dir = tmpDir(t)
    const result = aof(['demo', '--seconds', '0.5', '--dir', dir, '--json'])
    assert.equal(result.status, 0, result.stdout + result.stderr)
    const summary = JSON.parse(result.stdout) as DemoJson
    assert.equal(summary.check.ok, true, summary.check.problems.join('; '))
    // Quantities name their units.
    const { latency } = summary.follower
    assert.deepEqual(Object.keys(latency).sort(), ['count', 'maxNs', 'p50Ns', 'p99Ns'])
    assert.ok(latency.count > 0 && latency.p50Ns > 0 && latency.p50Ns <= latency.p99Ns && latency.p99Ns <= latency.maxNs)
    assert.deepEqual(Object.keys(summary.recovery).sort(), ['cutBytes', 'durationMs', 'how', 'sizeBytes', 'stateCutBytes'])
    assert.ok(summary.recovery.durationMs > 0 && summary.recovery.sizeBytes > 0)
    assert.equal(summary.lost, 0)
    assert.ok(summary.acknowledged > 0)
    assert.ok(summary.restored >= summary.acknowledged)
    assert.ok(summary.follower.lastSeq <= summary.restored)
    assert.equal(summary.follower.missed, 0)
  })
})

describe('aof demo options', () => {
  test('a bad flag exits 2 with one line, no stack trace', () => {
    const result = aof(['demo', '--no-such-flag'])
    assert.equal(result.status, 2)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  test('--seconds outside (0, 60] exits 2', () => {
    for (const seconds of ['0', '61', 'soon']) {
      const result = aof(['demo', '--seconds', seconds])
      assert.equal(result.status, 2, `--seconds ${seconds}: ${result.stderr}`)
    }
    assert.equal(parseSeconds('0.5'), 0.5)
    assert.equal(parseSeconds('60'), 60)
    assert.equal(parseSeconds(''), null)
  })
})

describe('the demo check', () => {
  test('passes on the state after a prefix holding every acknowledged update', () => {
    const restored = expectedLedger(1000)
    assert.deepEqual(checkLedger(restored, 1000), { ok: true, lost: 0, problems: [] })
    assert.equal(checkLedger(restored, 990, { lastSeq: 1000, missed: 0, failure: null }).ok, true)
  })

  test('fails when an acknowledged update is missing', () => {
    const result = checkLedger(expectedLedger(999), 1000)
    assert.equal(result.ok, false)
    assert.equal(result.lost, 1)
    assert.match(result.problems.join('\n'), /1 acknowledged updates are missing/)
  })

  test('fails when an update in the middle is missing, though the last one is there', () => {
    const state = initialLedger()
    for (let seq = 1; seq <= 100; seq++) {
      if (seq !== 50) applyLedger(state, { seq, at: '0', ...ledgerOperation(seq) })
    }
    const result = checkLedger(state, 100)
    assert.equal(result.ok, false)
    assert.match(result.problems.join('\n'), /out of sequence/)
  })

  test('fails when the balances do not add up', () => {
    const restored = expectedLedger(500)
    restored.balances[3]! += 1
    const result = checkLedger(restored, 500)
    assert.equal(result.ok, false)
    assert.match(result.problems.join('\n'), /add up to/)
  })

  test('fails when the follower saw more than was restored, missed updates, or failed', () => {
    const restored = expectedLedger(100)
    assert.match(checkLedger(restored, 100, { lastSeq: 101, missed: 0, failure: null }).problems.join(), /follower saw update 101/)
    assert.match(checkLedger(restored, 100, { lastSeq: 100, missed: 2, failure: null }).problems.join(), /missed 2/)
    assert.match(checkLedger(restored, 100, { lastSeq: 100, missed: 0, failure: 'boom' }).problems.join(), /boom/)
  })

  test('money is conserved: balances add up to the openings plus deposits', () => {
    const state = expectedLedger(5000)
    const sum = state.balances.reduce((total, balance) => total + balance, 0)
    assert.equal(sum, ACCOUNTS * OPENING_BALANCE + state.deposited)
    assert.ok(state.declined > 0 && state.deposited > 0, 'the model exercises deposits and declines')
    assert.ok(state.balances.every((balance) => balance >= 0))
  })
})
