import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { join } from 'node:path'

import { spawnHelper } from '../helpers/child.ts'
import { MAIN, ROOT, aof, entryText, useFixtures } from './fixtures.ts'

// tail prints the last entries; tail -f follows a writer in another process until Ctrl-C or
// until the writer finishes the file.
const fixture = useFixtures('tail')

test('tail prints the last entries of a log, the last lines or bytes of raw data', async () => {
  const run = await aof(['tail', fixture.files.logPlain])
  assert.equal(run.status, 0)
  assert.equal(run.stdout, Array.from({ length: 10 }, (_, k) => `${entryText(2990 + k)}\n`).join(''))
  assert.equal((await aof(['tail', '-n', '2', '--json', fixture.files.statePlain])).stdout.trim().split('\n').length, 2)
  assert.equal((await aof(['tail', '-n', '2', fixture.files.rawFinished])).stdout, 'line 28\nline 29\n')
  assert.equal((await aof(['tail', '-c', '3', fixture.files.rawClosed])).stdout, ' 4\n')
  assert.equal((await aof(['tail', '-n', '3', fixture.files.bigEntryLog, '--hex'])).stdout.split('\n').length, 4)
})

/** Starts `aof tail ...args` and collects its stdout. */
function startTail(args: readonly string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'tail', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  let out = ''
  let err = ''
  const waiters: { text: string; resolve: () => void }[] = []
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const waiter of waiters.filter((w) => out.includes(w.text))) waiter.resolve()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve()
        waiters.push({ text, resolve })
        void exited.then(() => reject(new Error(`tail exited before '${text}': ${out} ${err}`)))
      }),
  }
}

test('tail -f follows a live writer entry by entry, and ends with exit 0 on SIGINT', async (t) => {
  const path = join(fixture.dir, 'live.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [path, '--initial', '5'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')
  const follower = startTail(['-f', '-n', '2', path])
  t.after(() => follower.child.kill('SIGKILL'))
  await follower.waitFor('initial 4\n')
  assert.equal(follower.out(), 'initial 3\ninitial 4\n')
  for (const text of ['first live entry', 'second live entry']) {
    writer.process.stdin?.write(`append ${text}\n`)
    await follower.waitFor(`${text}\n`)
  }
  assert.equal(follower.out(), 'initial 3\ninitial 4\nfirst live entry\nsecond live entry\n')
  follower.child.kill('SIGINT')
  assert.equal(await follower.exited, 0)
  writer.process.kill('SIGKILL')
  await writer.exited
})

test('tail -f of raw data ends with exit 0 when the writer finishes the file', async (t) => {
  const path = join(fixture.dir, 'live-raw.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [path, '--initial', '2', '--raw'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')
  const follower = startTail(['-f', path])
  t.after(() => follower.child.kill('SIGKILL'))
  await follower.waitFor('initial 1\n')
  writer.process.stdin?.write('append raw line\n')
  await follower.waitFor('raw line\n')
  writer.process.stdin?.write('finish\n')
  assert.equal(await follower.exited, 0)
  assert.equal(follower.out(), 'initial 0\ninitial 1\nraw line\n')
})

test('tail -f reports a writer killed with SIGKILL in one line, exit 1', async (t) => {
  const path = join(fixture.dir, 'killed.aof')
  const writer = spawnHelper('../cli/live-writer.ts', [path, '--initial', '1'], { stdin: true })
  t.after(() => writer.process.kill('SIGKILL'))
  await writer.waitFor('ready')
  const follower = startTail(['-f', path])
  t.after(() => follower.child.kill('SIGKILL'))
  await follower.waitFor('initial 0\n')
  writer.process.kill('SIGKILL')
  await writer.exited
  assert.equal(await follower.exited, 1)
  assert.match(follower.err(), /^aof: ERR_AOF_WRITER_DIED: .*\n$/)
})

test('tail -f of a plain file is a usage error', async () => {
  const run = await aof(['tail', '-f', fixture.files.logPlain])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /^aof: ERR_WRONG_KIND: .*--follow needs an append-only file/)
})
