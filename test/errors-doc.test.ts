import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { ErrorCode } from '../src/index.ts'

test('docs/ERRORS.md has a row for every error code', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'ERRORS.md'), 'utf8')
  for (const [name, code] of Object.entries(ErrorCode)) {
    assert.ok(doc.includes(`| \`${code}\` | \`${name}\` |`), `docs/ERRORS.md lacks a row for ${code}`)
  }
})
