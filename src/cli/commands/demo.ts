/**
 * `aof demo`: a writer process keeps a bank ledger in a state log with `sync: 'always'`, a
 * follower process follows it live and measures write-to-observe latency; the demo kills the
 * writer with SIGKILL mid-stream, restores the ledger the way a restarting application would,
 * and checks that every acknowledged update survived and the balances add up.
 * @module
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, extname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

import { sidecarPath } from '../../aof/shm.ts'
import { checkLedger } from '../demo/check.ts'
import { onLines } from '../demo/protocol.ts'
import type { FollowerReport } from '../demo/protocol.ts'
import { openLedger, statsPath } from '../demo/store.ts'
import { count, progressLine, summaryJson, summaryTable } from '../demo/summary.ts'
import type { DemoSummary } from '../demo/summary.ts'
import { IN_FLIGHT, SNAPSHOT_EVERY } from '../demo/writer.ts'
import { streams, writeError } from '../output.ts'

export { demoWriter } from '../demo/writer.ts'
export { demoFollower } from '../demo/follower.ts'

/** Options of {@link demo}, as the command line gives them. */
export interface DemoOptions {
  /** Directory for the files (kept); default: a temporary directory (removed). */
  dir?: string
  /** Seconds the writer runs before it is killed, as text: more than 0, at most 60. */
  seconds: string
  /** Print the summary as JSON instead of a table, and no progress. */
  json?: boolean
}

/** How long a child may take to start (tsx compiles on the fly on a busy machine). */
const START_TIMEOUT_MS = 30_000
/** How long the follower has to notice the dead writer before it is stopped. */
const FOLLOWER_END_TIMEOUT_MS = 3_000

/** A child process of the demo, with what it said and how it ended. */
class Child {
  readonly process: ChildProcess
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null
  readonly exited: Promise<void>

  constructor(entry: string, args: string[], onLine: (line: string) => void) {
    // Same runtime and loader flags as ours, so it works from dist/ and under tsx.
    this.process = spawn(process.execPath, [...process.execArgv, entry, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal }
        resolve()
      })
    })
    // An EPIPE on a child that died is reported by its exit, not as an unhandled error.
    this.process.stdin?.on('error', () => undefined)
    if (this.process.stdout !== null) onLines(this.process.stdout, onLine)
  }

  /** Resolves true once `ready()` holds, false if the child exits or time runs out first. */
  async until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!ready()) {
      if (this.exit !== null || Date.now() > deadline) return false
      await sleep(5)
    }
    return true
  }

  /** Waits up to `timeoutMs` for the child to exit; true if it did. */
  async ended(timeoutMs: number): Promise<boolean> {
    if (this.exit !== null) return true
    const timer = sleep(timeoutMs).then(() => false)
    return Promise.race([this.exited.then(() => true), timer])
  }
}

/** Parses `--seconds`: a number in (0, 60], or null. */
export function parseSeconds(text: string): number | null {
  const seconds = Number(text)
  return text.trim() !== '' && Number.isFinite(seconds) && seconds > 0 && seconds <= 60 ? seconds : null
}

/** Runs the demo; resolves to 0 only if the check holds, 1 otherwise, 2 on bad options. */
export async function demo(options: DemoOptions): Promise<number> {
  const seconds = parseSeconds(options.seconds)
  if (seconds === null) {
    writeError(`aof demo: --seconds must be a number of seconds above 0 and at most 60, got '${options.seconds}'\n`)
    return 2
  }
  const json = options.json === true
  const say = (text: string): void => {
    if (!json) streams().stdout.write(text)
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'aofkit-demo-'))
  const path = join(dir, 'ledger.aof')
  try {
    if (options.dir !== undefined) {
      mkdirSync(dir, { recursive: true })
      // A fresh ledger each run: the check compares with updates 1..n of this run's model.
      rmSync(path, { force: true })
      rmSync(sidecarPath(path), { force: true })
      rmSync(statsPath(path), { force: true })
    }
    return await runDemo(path, seconds, json, say)
  } finally {
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

async function runDemo(path: string, seconds: number, json: boolean, say: (text: string) => void): Promise<number> {
  // The command's own entry point: dist/cli/main.js when built, src/cli/main.ts under tsx.
  const entry = fileURLToPath(new URL(`../main${extname(import.meta.url)}`, import.meta.url))
  say(`aofkit demo: a writer process keeps a bank ledger in ${path}\n`)
  say(`  (a state log in an append-only file, sync 'always'); a second process follows it live.\n`)
  say(`  While it runs, \`aof stats ${dirname(path)}\` shows the files and the writer's statistics.\n`)

  let writerPid = 0
  let acknowledged = 0
  const writer = new Child(entry, ['demo-writer', path], (line) => {
    const [word, value] = line.split(' ')
    if (word === 'ready') writerPid = Number(value)
    else if (word === 'ack') acknowledged = Math.max(acknowledged, Number(value))
  })
  let follower: Child | null = null
  // Filled by the follower's lines (an object, so that TypeScript does not narrow it to null).
  const reports: { latest: FollowerReport | null; last: FollowerReport | null } = { latest: null, last: null }
  const stopChildren = (): void => {
    writer.process.kill('SIGKILL')
    follower?.process.kill('SIGKILL')
  }
  try {
    if (!(await writer.until(() => writerPid !== 0, START_TIMEOUT_MS))) return fail('the writer did not start', writer)
    follower = new Child(entry, ['demo-follower', path], (line) => {
      const report = JSON.parse(line) as FollowerReport
      if (report.kind === 'end') reports.last = report
      reports.latest = report
    })
    if (!(await follower.until(() => reports.latest !== null, START_TIMEOUT_MS))) return fail('the follower did not start', follower)

    writer.process.stdin?.write('go\n')
    const started = performance.now()
    const tty = streams().stdout.isTTY === true && !json
    let lastPrinted = 0
    const show = (): void => {
      const now = performance.now()
      const report = reports.latest
      const line = progressLine(now - started, acknowledged, report)
      if (tty) say(`\r${line}\x1b[K`)
      else if (now - lastPrinted >= 1000) {
        say(`${line}\n`)
        lastPrinted = now
      }
    }
    const deadline = started + seconds * 1000
    // Kill mid-stream: after the time asked for, and once at least one update is durable.
    while (performance.now() < deadline || (acknowledged === 0 && performance.now() < deadline + START_TIMEOUT_MS)) {
      if (writer.exit !== null) {
        if (tty) say('\n')
        return fail(`the writer exited by itself (${describeExit(writer)})`, writer)
      }
      show()
      await sleep(Math.min(tty ? 100 : 250, Math.max(1, deadline - performance.now())))
    }
    writer.process.kill('SIGKILL')
    const killedAt = performance.now()
    await writer.exited
    // Acknowledgements still in the pipe arrive before its end: read them all.
    await new Promise((resolve) => (writer.process.stdout?.readableEnded === true ? resolve(null) : writer.process.stdout?.once('end', resolve)))
    if (tty) say(`\r${progressLine(killedAt - started, acknowledged, reports.latest)}\x1b[K\n`)
    const runSeconds = (killedAt - started) / 1000
    say(`killed the writer (pid ${writerPid}) with SIGKILL after ${runSeconds.toFixed(1)} s: ${count(acknowledged)} updates acknowledged\n`)

    // The follower's reader notices the dead writer by itself; stop it if it does not.
    if (!(await follower.ended(FOLLOWER_END_TIMEOUT_MS))) {
      follower.process.stdin?.end()
      if (!(await follower.ended(FOLLOWER_END_TIMEOUT_MS))) follower.process.kill('SIGKILL')
    }
    await follower.exited
    await new Promise((resolve) => (follower?.process.stdout?.readableEnded === true ? resolve(null) : follower?.process.stdout?.once('end', resolve)))
    const final = reports.last ?? reports.latest
    if (final === null) return fail('the follower reported nothing', follower)
    say(`the follower stopped: ${final.reason ?? `it was stopped (${describeExit(follower)})`}\n`)

    say('restoring the ledger from the file, as an application restarting after the crash would...\n')
    const recoveryStarted = process.hrtime.bigint()
    const ledger = await openLedger(path)
    const recoveryMs = Number(process.hrtime.bigint() - recoveryStarted) / 1e6
    const restored = ledger.state
    const size = ledger.size
    ledger.writer.restored.updates.close()
    await ledger.writer.close()
    await ledger.file.close()

    const failure = final.kind !== 'end' ? `the follower ended without a last report (${describeExit(follower)})` : final.failed ? (final.reason ?? '?') : null
    const check = checkLedger(restored, acknowledged, { lastSeq: final.lastSeq, missed: final.missed, failure })
    // A run that acknowledged nothing proved nothing.
    if (acknowledged === 0) {
      check.problems.push('the writer acknowledged no update before it was killed')
      check.ok = false
    }
    const summary: DemoSummary = {
      path,
      seconds: runSeconds,
      inFlight: IN_FLIGHT,
      snapshotEvery: SNAPSHOT_EVERY,
      acknowledged,
      durablePerSecond: runSeconds > 0 ? acknowledged / runSeconds : 0,
      restored: restored.seq,
      replayed: ledger.replayed,
      lost: check.lost,
      follower: {
        updates: final.updates,
        snapshots: final.snapshots,
        lastSeq: final.lastSeq,
        missed: final.missed,
        latency: final.total,
        ended: final.reason ?? 'stopped',
      },
      recovery: { ms: recoveryMs, how: ledger.recovery, cutBytes: ledger.cutBytes, stateCut: ledger.cut?.size ?? 0, size },
      check,
    }
    if (json) streams().stdout.write(`${JSON.stringify(summaryJson(summary), null, 2)}\n`)
    else say(`\n${summaryTable(summary)}`)
    return check.ok ? 0 : 1
  } finally {
    stopChildren()
  }
}

function describeExit(child: Child): string {
  const exit = child.exit
  if (exit === null) return 'still running'
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`
}

function fail(message: string, child: Child): number {
  writeError(`aof demo: ${message} (${describeExit(child)})\n`)
  return 1
}
