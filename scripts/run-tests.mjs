#!/usr/bin/env node
// Runs the test suite with node:test. Node 20 cannot glob TypeScript test files itself, so
// this finds them (under the given folders, default test/) and hands them to `node --test`.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function findTests(path, found) {
  if (statSync(path).isFile()) {
    if (path.endsWith('.test.ts')) found.push(path)
    return found
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'fixtures' || name === 'helpers' || name === 'node_modules') continue
    findTests(join(path, name), found)
  }
  return found
}

const roots = process.argv.slice(2)
const files = (roots.length > 0 ? roots : ['test']).flatMap((root) => findTests(root, []))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
// FC_SEED: replay a property test's failing run with the seed its failure printed.
const replay = process.env.FC_SEED ? ['--import', './test/helpers/fast-check-replay.ts'] : []
// AOFKIT_TEST_CONCURRENCY: how many test files run at once (node's default is one less than
// the cores, one on a two-core machine; most files wait on child processes and timers).
const concurrency = process.env.AOFKIT_TEST_CONCURRENCY ? [`--test-concurrency=${process.env.AOFKIT_TEST_CONCURRENCY}`] : []
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', ...replay, '--test', ...concurrency, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
