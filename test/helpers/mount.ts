/**
 * A small file system of its own for one test (a tmpfs to fill, a ramfs without fallocate):
 * mounted in a fresh directory, detached and removed when the test ends. Mounting needs root;
 * where it cannot be done the test is skipped, with the reason.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/**
 * Mounts a file system of `type` (`tmpfs`, `ramfs`) with `options` (`size=1m`) for the test.
 * @returns Its mount point, or null when the test was skipped (not root, or the mount failed).
 */
export function mountFor(t: TestContext, type: string, options: string): string | null {
  if (process.getuid?.() !== 0) {
    skip(t, `needs root to mount a ${type}`)
    return null
  }
  const point = mkdtempSync(join(tmpdir(), `aofkit-${type}-`))
  try {
    execFileSync('mount', ['-t', type, '-o', options, type, point], { stdio: 'pipe' })
  } catch (error) {
    rmdirSync(point)
    skip(t, `cannot mount a ${type}: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`)
    return null
  }
  t.after(() => {
    // Lazily: a file the test's own cleanup closes later keeps the file system until then.
    execFileSync('umount', ['--lazy', point], { stdio: 'pipe' })
    rmdirSync(point)
  })
  return point
}

function skip(t: TestContext, reason: string): void {
  t.diagnostic(`skipped: ${reason}`)
  t.skip(reason)
}
