/**
 * bench/all.ts, the summary of every benchmark (a checkout's tool, not a command of the
 * package). The benchmarks themselves are not run here (they take minutes); its checks and its
 * reading of each benchmark's JSON are.
 */
import assert from 'node:assert/strict'
import { Readable, Writable } from 'node:stream'
import { test } from 'node:test'

import { BENCHMARKS, main } from '../../bench/all.ts'
import { withStreams } from '../../src/cli/output.ts'
import { aof } from '../cli/fixtures.ts'

test('--only with an unknown name is a usage error, in one line', async () => {
  let stderr = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stderr += chunk.toString()
      callback()
    },
  })
  const code = await withStreams({ stdout: sink, stderr: sink, stdin: Readable.from([]) }, () => main(['--only', 'nope']))
  assert.equal(code, 2)
  assert.equal(stderr, "bench: ERR_USAGE: no benchmark 'nope' (choose from aof-write, log, state, checksum, tail-latency)\n")
})

test('the shipped command has no bench: the benchmarks are not in the package', async () => {
  const help = await aof(['--help'])
  assert.doesNotMatch(help.stdout, /\n {2}bench /)
  const run = await aof(['bench'])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /^aof: ERR_USAGE: unknown command 'bench'/)
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
