import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { tmpDir } from '../helpers/tmp-dir.ts'

const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')

test('aof demo kills a writer, recovers, and passes its check', (t) => {
  const dir = tmpDir(t)
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, 'demo', '--seconds', '0.6', '--dir', dir], {
    encoding: 'utf8',
  })
  assert.equal(result.status, 0, result.stdout + result.stderr)
  assert.match(result.stdout, /killed the writer with SIGKILL/)
  assert.match(result.stdout, /acknowledged entries lost\s+0/)
  assert.match(result.stdout, /PASS/)
  assert.ok(existsSync(join(dir, 'ledger.aof')), 'with --dir the files are kept')
})

test('aof with a bad flag exits 2 with one line, no stack trace', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, 'demo', '--no-such-flag'], { encoding: 'utf8' })
  assert.equal(result.status, 2)
  assert.doesNotMatch(result.stderr, /\n\s+at /)
})
