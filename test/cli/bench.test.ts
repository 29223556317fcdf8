import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { spawnSync } from 'node:child_process'

import { BENCHMARKS } from '../../src/cli/commands/bench.ts'
import { ROOT, aof } from './fixtures.ts'

// The benchmarks themselves are not run here (they take minutes); the command's checks and its
// reading of each benchmark's JSON are.

test('bench --only with an unknown name is a usage error', async () => {
  const run = await aof(['bench', '--only', 'nope'])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /^aof: ERR_USAGE: no benchmark 'nope' \(choose from aof-write, log, state, checksum, tail-latency\)\n$/)
})

test('bench outside a source checkout says so in one line, exit 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aofkit-cli-bench-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // A package without bench/: the sources, the addon and the dependencies, nothing else.
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  symlinkSync(join(ROOT, 'build'), join(dir, 'build'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'aofkit', type: 'module' }))
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'src', 'cli', 'main.ts'), 'bench', '--quick'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  assert.equal(run.status, 1, run.stderr)
  assert.match(run.stderr, /^aof: ERR_UNAVAILABLE: the benchmarks are not installed .*source checkout/)
})

test('each benchmark’s JSON becomes rows of ratios', () => {
  const ratios = (name: string, result: Record<string, unknown>) => BENCHMARKS.find((b) => b.name === name)!.ratios(result)
  assert.deepEqual(
    ratios('aof-write', { targets: [{ size: 100, mode: 'burst', writeVsWriteSync: 40, writeVsBuffered: 2 }] }).map((r) => r.ratio),
    [40, 2],
  )
  assert.deepEqual(ratios('state', { results: { '  ratio to baseline (16 writers)': 12, 'sync: none': 5 } }).map((r) => r.ratio), [12])
  const tail = ratios('tail-latency', {
    rows: [
      { name: 'other process openReader+tail()', p50: 10, p99: 20 },
      { name: 'baseline: fs.watch + readSync', p50: 20, p99: 80 },
      { name: 'baseline: npm tail', p50: 100, p99: 100 },
    ],
    catchUpGBps: { aof: 4, read: 2 },
  })
  assert.deepEqual(tail.map((r) => r.ratio), [2, 4, 10, 2])
  const log = ratios('log', { rows: [] })
  assert.ok(log.every((r) => Number.isNaN(r.ratio)), 'a changed shape gives n/a, not a crash')
})
