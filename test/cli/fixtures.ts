/**
 * Real files of every kind the `aof` command handles, written with the library, and helpers to
 * run the command (in this process, or as a subprocess) and damage copies of the files. Also a script:
 * `node --import tsx test/cli/fixtures.ts DIR` writes the files into DIR.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { after, before } from 'node:test'

import { run } from '../../src/cli/program.ts'
import { AppendOnlyFileSink, FileSink, LogWriter, Manager, StateWriter } from '../../src/index.ts'

export const ROOT = join(import.meta.dirname, '..', '..')
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts')

/** The result of one run of the command. */
export interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** Collects what the command writes to one of its streams. */
class Collector extends Writable {
  readonly #chunks: Buffer[] = []

  override _write(chunk: unknown, encoding: BufferEncoding, callback: () => void): void {
    this.#chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array))
    callback()
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8')
  }
}

/**
 * Runs `aof ...args` in this process, with its own streams (no terminal; `input` is its
 * stdin, `env` adds to the environment its colours read).
 */
export async function aof(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const stdout = new Collector()
  const stderr = new Collector()
  const stdin = Readable.from(options.input === undefined ? [] : [options.input])
  const status = await run([...args], { stdout, stderr, stdin, env: { ...process.env, NO_COLOR: '1', ...options.env } })
  return { status, stdout: stdout.text(), stderr: stderr.text() }
}

/**
 * Runs `aof ...args` as a subprocess (through tsx), without a terminal: for what only a real
 * process shows (its exit, signals, a failing import).
 */
export function aofProcess(args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input: options.input ?? '',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** The text of entry `k` of the fixtures' logs. */
export function entryText(k: number): string {
  return `entry ${k} ${'x'.repeat(k % 50)}`
}

/** Names of the fixture files in a directory. */
export interface Fixtures {
  rawFinished: string
  rawClosed: string
  logAof: string
  logPlain: string
  stateAof: string
  statePlain: string
  bigEntryLog: string
}

/**
 * The fixtures of one test file: written into a fresh folder before its tests, removed after.
 * `dir` and `files` are filled in once the tests run.
 */
export function useFixtures(name: string): { dir: string; files: Fixtures } {
  const fixture = { dir: '', files: {} as Fixtures }
  before(async () => {
    fixture.dir = mkdtempSync(join(tmpdir(), `aofkit-cli-${name}-`))
    fixture.files = await writeFixtures(fixture.dir)
  })
  after(() => rmSync(fixture.dir, { recursive: true, force: true }))
  return fixture
}

/** Writes every fixture into `dir`. */
export async function writeFixtures(dir: string): Promise<Fixtures> {
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  const files: Fixtures = {
    rawFinished: join(dir, 'raw-finished.aof'),
    rawClosed: join(dir, 'raw-closed.aof'),
    logAof: join(dir, 'log.aof'),
    logPlain: join(dir, 'plain.log'),
    stateAof: join(dir, 'state.aof'),
    statePlain: join(dir, 'state.log'),
    bigEntryLog: join(dir, 'big.log'),
  }

  // Raw bytes, finished, with a checkpoint in the middle.
  const raw = manager.open(files.rawFinished, { create: true })
  for (let k = 0; k < 20; k++) raw.write(Buffer.from(`line ${k}\n`))
  raw.checkpoint()
  for (let k = 20; k < 30; k++) raw.write(Buffer.from(`line ${k}\n`))
  await raw.finish()
  await raw.close()

  // Raw bytes, closed without finish.
  const closed = manager.open(files.rawClosed, { create: true })
  for (let k = 0; k < 5; k++) closed.write(Buffer.from(`line ${k}\n`))
  await closed.close()

  // A record log in an append-only file: 200 entries over several blocks, finished.
  const logFile = manager.open(files.logAof, { create: true })
  const logWriter = new LogWriter(new AppendOnlyFileSink(logFile))
  for (let k = 0; k < 200; k++) logWriter.append(Buffer.from(entryText(k)))
  await logFile.finish()
  await logFile.close()

  // The same log in a plain file, 3000 entries (several 32 KiB blocks).
  const fd = openSync(files.logPlain, 'w')
  const sink = new FileSink(fd)
  const plain = new LogWriter(sink)
  for (let k = 0; k < 3000; k++) plain.append(Buffer.from(entryText(k)))
  plain.flush()
  closeSync(fd)

  // Entries that span blocks.
  const bigFd = openSync(files.bigEntryLog, 'w')
  const bigSink = new FileSink(bigFd)
  const big = new LogWriter(bigSink)
  for (let k = 0; k < 4; k++) big.append(Buffer.alloc(50_000, 97 + k))
  big.flush()
  closeSync(bigFd)

  // State logs: three epochs; the last has 2 updates after a 5-byte snapshot.
  for (const [path, appendOnlyFile] of [
    [files.statePlain, false],
    [files.stateAof, true],
  ] as const) {
    const writer = await StateWriter.open(path, { sync: 'none', ...(appendOnlyFile ? { appendOnlyFile: true } : {}) })
    await writer.update(Buffer.from('u0'))
    await writer.snapshot(Buffer.from('snap1'))
    await writer.update(Buffer.from('u1'))
    await writer.snapshot(Buffer.from('snap2'))
    await writer.update(Buffer.from('u2'))
    await writer.update(Buffer.from('u3'))
    await writer.close()
  }
  await manager.close()
  return files
}

/** Copies `path` to `to`, then xors the byte at `offset` with 0xff. */
export function flipByte(path: string, to: string, offset: number): string {
  copyFileSync(path, to)
  const fd = openSync(to, 'r+')
  const byte = Buffer.alloc(1)
  const got = readFileSync(to).subarray(offset, offset + 1)
  byte[0] = (got[0] ?? 0) ^ 0xff
  writeSync(fd, byte, 0, 1, offset)
  closeSync(fd)
  return to
}

/** Copies `path` to `to`, cut to `size` bytes. */
export function truncatedCopy(path: string, to: string, size: number): string {
  copyFileSync(path, to)
  truncateSync(to, size)
  return to
}

/** The size of `path`. */
export function sizeOf(path: string): number {
  return statSync(path).size
}

// Run as a script: write the fixtures into the directory given.
if (process.argv[1] === import.meta.filename) {
  const dir = process.argv[2]
  if (dir === undefined) throw new Error('usage: fixtures.ts DIR')
  console.log(JSON.stringify(await writeFixtures(dir), null, 2))
}
