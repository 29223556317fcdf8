/**
 * `aof demo`: a writer process appends ledger entries as fast as it can and reports each one
 * that returned; the demo kills it with SIGKILL mid-stream, reopens the file, and checks that
 * the data is exactly the acknowledged entries (plus at most the one in flight).
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { AppendOnlyFile } from '../../aof/append-only-file.ts'
import { RecoveryKind } from '../../aof/recovery.ts'

/** The ledger entry with sequence number `index`: deterministic, so the check can rebuild it. */
export function ledgerEntry(index: number): string {
  const account = (index * 7919) % 1000
  const amount = ((index * 104729) % 100000) - 50000
  return `${JSON.stringify({ seq: index, account: `acct-${account}`, amount })}\n`
}

/** The hidden writer side of the demo: writes until killed, acknowledging on stdout. */
export async function demoWriter(path: string): Promise<number> {
  const file = AppendOnlyFile.open(path, {
    create: true,
    geometry: { sizeUpper: 1024 * 1024 * 1024, growthStep: 4 * 1024 * 1024 },
  })
  let index = 0
  for (;;) {
    const batchEnd = index + 2000
    for (; index < batchEnd; index++) file.write(Buffer.from(ledgerEntry(index)))
    // Every entry below `index` has returned from write(): acknowledge them.
    process.stdout.write(`${index}\n`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

interface DemoOptions {
  dir?: string
  seconds: string
}

/** Runs the demo; resolves to 0 only if the check holds. */
export async function demo(options: DemoOptions): Promise<number> {
  const seconds = Number(options.seconds)
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) {
    process.stderr.write('aof demo: --seconds must be a number between 0 and 60\n')
    return 2
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'aofkit-demo-'))
  const path = join(dir, 'ledger.aof')
  // The command's own entry point: dist/cli/main.js when built, src/cli/main.ts under tsx.
  const entry = fileURLToPath(new URL(`../main${extname(import.meta.url)}`, import.meta.url))
  process.stdout.write(`aofkit demo: a writer appends ledger entries to ${path}\n`)
  const writer = spawn(process.execPath, [...process.execArgv, entry, 'demo-writer', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let acknowledged = 0
  let pending = ''
  writer.stdout.setEncoding('utf8')
  writer.stdout.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line !== '') acknowledged = Number(line)
  })
  const started = Date.now()
  const progress = setInterval(() => {
    process.stdout.write(`  ${((Date.now() - started) / 1000).toFixed(1)} s: ${acknowledged} entries acknowledged\n`)
  }, 500)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  clearInterval(progress)
  const exited = new Promise((resolve) => writer.once('exit', resolve))
  writer.kill('SIGKILL')
  await exited
  process.stdout.write(`killed the writer with SIGKILL after ${acknowledged} acknowledged entries\n`)

  const startedRecovery = process.hrtime.bigint()
  const file = AppendOnlyFile.open(path)
  const recoveryMs = Number(process.hrtime.bigint() - startedRecovery) / 1e6
  const data = Buffer.from(file.contents()).toString('utf8')
  const lines = data.split('\n')
  const complete = lines.length - 1
  let ok = lines[complete] === ''
  let firstBad = -1
  for (let index = 0; ok && index < complete; index++) {
    if (`${lines[index]}\n` !== ledgerEntry(index)) {
      ok = false
      firstBad = index
    }
  }
  const lostAcknowledged = Math.max(0, acknowledged - complete)
  ok = ok && lostAcknowledged === 0
  const outcome = Object.entries(RecoveryKind).find(([, value]) => value === file.recovery.outcome)?.[0]
  const rows: [string, string][] = [
    ['entries acknowledged', String(acknowledged)],
    ['entries recovered', String(complete)],
    ['acknowledged entries lost', String(lostAcknowledged)],
    ['entries in flight recovered', String(Math.max(0, complete - acknowledged))],
    ['recovery outcome', `${outcome ?? '?'} (from ${file.recovery.source}, ${file.recovery.cutBytes} torn bytes cut)`],
    ['recovery time', `${recoveryMs.toFixed(2)} ms`],
    ['data size', `${file.size} bytes`],
    ['check', ok ? 'PASS: every acknowledged entry is present, nothing else' : `FAIL${firstBad >= 0 ? ` at entry ${firstBad}` : ''}`],
  ]
  await file.close()
  if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
  const width = Math.max(...rows.map(([name]) => name.length))
  process.stdout.write('\n')
  for (const [name, value] of rows) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`)
  return ok ? 0 : 1
}
