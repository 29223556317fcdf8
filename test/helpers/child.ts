/** Spawning TypeScript helper processes and watching their output. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Repository root (children run from there so that `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface Child {
  process: ChildProcess
  /** Everything written to stdout so far. */
  stdout(): string
  stderr(): string
  /** Resolves when stdout contains `text` (rejects if the child exits first). */
  waitFor(text: string): Promise<void>
  /** Resolves with how the child ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `node --import tsx test/helpers/<script> ...args` (stdin a pipe when asked). */
export function spawnHelper(script: string, args: readonly string[], options: { stdin?: boolean } = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', `test/helpers/${script}`, ...args], {
    cwd: ROOT,
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const waiters: Array<{ text: string; resolve: () => void; reject: (error: Error) => void }> = []
  const check = (): void => {
    for (let k = waiters.length - 1; k >= 0; k--) {
      const waiter = waiters[k]!
      if (out.includes(waiter.text)) {
        waiters.splice(k, 1)
        waiter.resolve()
      }
    }
  }
  const { stdout, stderr } = child
  if (stdout === null || stderr === null) throw new Error('the child has no stdout or stderr pipe')
  stdout.setEncoding('latin1')
  stderr.setEncoding('utf8')
  stdout.on('data', (chunk: string) => {
    out += chunk
    check()
  })
  stderr.on('data', (chunk: string) => {
    err += chunk
  })
  /** How the child ended, once it has. */
  let closed: string | null = null
  const rejectUnwritten = (waiter: { text: string; reject: (error: Error) => void }): void => {
    waiter.reject(new Error(`child exited (${closed}) before writing '${waiter.text}'; stderr: ${err}`))
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' fires after the exit and after stdout and stderr are drained.
    child.on('close', (code, signal) => {
      closed = `code ${code}, signal ${signal}`
      for (const waiter of waiters.splice(0)) rejectUnwritten(waiter)
      resolve({ code, signal })
    })
  })
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve, reject })
        check()
        // Asked after the child ended: what it did not write it never will.
        if (closed !== null) for (const waiter of waiters.splice(0)) rejectUnwritten(waiter)
      }),
    exited,
  }
}

/** A small seeded PRNG (mulberry32) so that a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
