import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ROOT, aof, aofProcess } from './fixtures.ts'

// Bad input to every subcommand: one line on stderr, `aof: CODE: message`, exit 2 (or 1), and
// never a stack trace. --help on every subcommand exits 0.
const COMMANDS = ['inspect', 'verify', 'recover', 'cat', 'tail', 'state', 'compact', 'stats'] as const

let dir = ''
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'aofkit-cli-errors-'))
  mkdirSync(join(dir, 'a-directory'))
  writeFileSync(join(dir, 'secret.log'), 'x')
  chmodSync(join(dir, 'secret.log'), 0o000)
  writeFileSync(join(dir, 'notes.txt'), 'just some text\n')
})
after(() => rmSync(dir, { recursive: true, force: true }))

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern)
  assert.equal(stderr.split('\n').length, 2, `one line: ${stderr}`)
  assert.doesNotMatch(stderr, /\n\s+at /)
}

test('a missing file, a directory, a file without permission: exit 2, one line', async () => {
  for (const command of COMMANDS) {
    const missing = await aof([command, join(dir, 'nope.aof')])
    assert.equal(missing.status, 2, `${command}: ${missing.stderr}`)
    assertOneLine(missing.stderr, /^aof: ERR_AOF_NOT_FOUND: no such file '.*nope\.aof'/)
    if (command !== 'stats') {
      const directory = await aof([command, join(dir, 'a-directory')])
      assert.equal(directory.status, 2, command)
      assertOneLine(directory.stderr, /^aof: ERR_AOF_IS_DIRECTORY: /)
    }
    const secret = await aof([command, join(dir, 'secret.log')])
    assert.equal(secret.status, 2, command)
    assertOneLine(secret.stderr, /^aof: ERR_AOF_READ_PERMISSION: file '.*secret\.log' has no read permission/)
  }
})

test('a file of another kind: exit 2 where the command needs a log', async () => {
  const notes = join(dir, 'notes.txt')
  for (const args of [['state', notes], ['compact', notes], ['cat', '--records', notes], ['tail', '--json', notes], ['recover', notes], ['tail', '-f', notes]]) {
    const run = await aof(args)
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
    assertOneLine(run.stderr, /^aof: ERR_WRONG_KIND: /)
  }
  // Commands that only describe a file accept any file.
  assert.equal((await aof(['inspect', notes])).status, 0)
  assert.equal((await aof(['verify', notes])).status, 0)
  assert.equal((await aof(['cat', notes])).stdout, 'just some text\n')
})

test('a bad flag, a missing argument, a bad number: exit 2, one line', async () => {
  for (const command of COMMANDS) {
    const run = await aof([command, '--no-such-flag', 'x'])
    assert.equal(run.status, 2, command)
    assertOneLine(run.stderr, /^aof: ERR_USAGE: unknown option '--no-such-flag'/)
  }
  const missing = await aof(['inspect'])
  assert.equal(missing.status, 2)
  assertOneLine(missing.stderr, /^aof: ERR_USAGE: missing required argument 'file'/)
  const number = await aof(['cat', '--from', 'ten', join(dir, 'notes.txt')])
  assert.equal(number.status, 2)
  assertOneLine(number.stderr, /^aof: ERR_USAGE: --from must be a non-negative integer, got 'ten'/)
  const unknown = await aof(['frobnicate'])
  assert.equal(unknown.status, 2)
  assertOneLine(unknown.stderr, /^aof: ERR_USAGE: unknown command 'frobnicate'/)
})

test('--help on every subcommand, exit 0', async () => {
  for (const command of [...COMMANDS, 'demo']) {
    const run = await aof([command, '--help'])
    assert.equal(run.status, 0, command)
    assert.match(run.stdout, new RegExp(`^Usage: aof ${command} `))
  }
  const top = await aof(['--help'])
  assert.equal(top.status, 0)
  for (const command of COMMANDS) assert.match(top.stdout, new RegExp(`\\n  ${command} `))
  assert.match(top.stdout, /Exit codes: 0 ok, 1 problem found/)
})

test('no colour when stdout is not a terminal, even with --json', async () => {
  const run = await aof(['inspect', join(dir, 'notes.txt')], { env: { NO_COLOR: undefined, FORCE_COLOR: undefined } })
  assert.ok(!run.stdout.includes('\u001b['))
  const forced = await aof(['verify', join(dir, 'notes.txt')], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } })
  assert.ok(forced.stdout.includes('\u001b['))
})

test('without its native addon, aof prints one line with a code and what to run, exit 1', () => {
  // node-gyp-build then looks only for prebuilt addons, and for an architecture that has none.
  for (const args of [['inspect', join(dir, 'notes.txt')], ['--version'], ['cat', join(dir, 'notes.txt')]]) {
    const run = aofProcess(args, { env: { PREBUILDS_ONLY: '1', npm_config_arch: 'no-such-arch' } })
    assert.equal(run.status, 1, `${args.join(' ')}: ${run.stderr}`)
    assertOneLine(run.stderr, /^aof: ERR_[A-Z_]+: .*addon.*\bnpm (re)?build\b/)
    assert.equal(run.stdout, '')
  }
})

test('--version prints the package version', async () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
  for (const flag of ['--version', '-V']) {
    const run = await aof([flag])
    assert.equal(run.status, 0)
    assert.equal(run.stdout, `${version}\n`)
  }
})
