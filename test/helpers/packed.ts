/**
 * The package as users get it: `npm pack` of this tree (with its prebuilt addon, built first
 * when missing or older than the C++ sources), and installs of the tarball into empty projects
 * whose PATH holds node, npm and sh only: no C++ compiler, make or python3.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import type { SpawnSyncReturns } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ROOT } from './child.ts'

/** Where prebuildify puts this platform's binary. */
export const PREBUILD_DIR = join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`)

function newestMtime(dir: string, pattern: RegExp): number {
  let newest = 0
  for (const name of readdirSync(dir)) if (pattern.test(name)) newest = Math.max(newest, statSync(join(dir, name)).mtimeMs)
  return newest
}

/**
 * Builds the prebuilt addon unless one newer than the C++ sources exists: prebuildify with the
 * options of `npm run prebuild`, in a copy of the sources, so that the `build/` other tests load
 * the addon from is never rebuilt under them. The binary lands in this tree's `prebuilds/`.
 */
export function ensurePrebuild(): void {
  let built = 0
  try {
    built = newestMtime(PREBUILD_DIR, /\.node$/)
  } catch {
    built = 0
  }
  const sources = Math.max(newestMtime(join(ROOT, 'src', 'native'), /\.(cc|h)$/), statSync(join(ROOT, 'binding.gyp')).mtimeMs)
  if (built > sources) return
  const copy = mkdtempSync(join(tmpdir(), 'aofkit-prebuild-'))
  try {
    for (const file of ['package.json', 'binding.gyp']) cpSync(join(ROOT, file), join(copy, file))
    cpSync(join(ROOT, 'src', 'native'), join(copy, 'src', 'native'), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
    const prebuildify = join(ROOT, 'node_modules', '.bin', 'prebuildify')
    check(runIn(copy, prebuildify, ['--napi', '--strip', '--tag-libc', '--cwd', copy, '--out', ROOT]), 'prebuildify')
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
}

/** Runs a command; returns its output and status without throwing. */
export function runIn(cwd: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 300_000 })
}

/** Throws with the command's output unless it exited 0. */
export function check(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) {
    throw new Error(`${what} failed (status ${result.status}, ${String(result.error ?? '')}):\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

/** `npm pack` of this tree into `dir` (which runs the package's `prepare`: the TypeScript build); the tarball's path. */
export function pack(dir: string): string {
  ensurePrebuild()
  const out = check(runIn(ROOT, 'npm', ['pack', '--json', '--pack-destination', dir]), 'npm pack')
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string }>
  return join(dir, info!.filename)
}

/** The tarball's file list (paths without the leading `package/`). */
export function tarballFiles(tarball: string): string[] {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
}

/** A folder holding only node, npm and sh: a PATH without a compiler, make or python3. */
export function bareBin(dir: string): string {
  const bin = join(dir, 'bare-bin')
  if (existsSync(bin)) return bin
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync(realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()), join(bin, 'npm'))
  symlinkSync('/bin/sh', join(bin, 'sh'))
  return bin
}

/**
 * This process's environment (certificates, proxies, HOME and its npm cache) with PATH set to
 * `bin` only, and without the variables npm sets for a running script or NODE_OPTIONS.
 */
export function bareEnv(bin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS' && key !== 'PATH') env[key] = value
  }
  env['PATH'] = bin
  env['npm_config_audit'] = 'false'
  env['npm_config_fund'] = 'false'
  env['npm_config_update_notifier'] = 'false'
  return env
}

/** A fresh temporary folder, removed at exit of the returned cleanup. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * An empty project in `dir` (its package.json with `fields` added) with `aofkit` installed from
 * `tarball` by npm with `flags`.
 */
export function installProject(dir: string, tarball: string, env: NodeJS.ProcessEnv, flags: readonly string[], fields: object = {}): string {
  const project = join(dir, 'project')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'aofkit-user', version: '1.0.0', private: true, ...fields }))
  check(runIn(project, 'npm', ['install', '--no-audit', '--no-fund', ...flags, tarball], env), `npm install ${flags.join(' ')}`)
  return project
}

/** A program using the library as the README shows (ES module): `ok` and the entries it read back. */
export const USE_ESM = `
import { rmSync } from 'node:fs'
for (const name of ['events.aof', 'events.aof-shm']) rmSync(name, { force: true })
import { AppendOnlyFile, AppendOnlyFileSink, AppendOnlyFileSource, LogReader, LogWriter } from 'aofkit'
const file = AppendOnlyFile.open('events.aof', { create: true })
const log = new LogWriter(new AppendOnlyFileSink(file))
for (let i = 0; i < 100; i++) log.append(Buffer.from('event ' + i))
await file.sync()
let count = 0
for (const entry of new LogReader(new AppendOnlyFileSource(file))) if (Buffer.from(entry).toString().startsWith('event ')) count++
await file.finish()
await file.close()
console.log('ok ' + count)
`

/** The same from CommonJS, through require(). */
export const USE_CJS = `
const { rmSync } = require('node:fs')
for (const name of ['cjs.aof', 'cjs.aof-shm']) rmSync(name, { force: true })
const { AppendOnlyFile, isAofkitError } = require('aofkit')
const file = AppendOnlyFile.open('cjs.aof', { create: true })
file.write(Buffer.from('from CommonJS'))
file.close().then(() => console.log('ok ' + typeof isAofkitError))
`
