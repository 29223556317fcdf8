// After a failed fdatasync the file stays failed: the kernel marks the pages it could not
// write clean and reports the error once, so a later fdatasync succeeds without them
// ("fsyncgate"); sync() must not report success then. The failure is real: the file lives on
// an ext4 file system (no journal) in a sparse image on a small tmpfs, through a loop device; filling the
// tmpfs makes the loop device's writes fail, freeing it lets the next fdatasync succeed.
// Needs root (mount, losetup); otherwise it is skipped with the reason.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeSync, openSync, closeSync, fdatasyncSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { ErrorCode, Manager } from '../../src/index.ts'

let root = ''
let loop = ''
let skipReason = ''
const mounted: string[] = []

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { stdio: 'pipe', encoding: 'utf8' }).trim()
}

before(() => {
  if (process.getuid?.() !== 0) {
    skipReason = 'needs root to mount a tmpfs and an ext4 image on a loop device'
    return
  }
  root = mkdtempSync(join(tmpdir(), 'aofkit-syncfail-'))
  try {
    mkdirSync(join(root, 'backing'))
    mkdirSync(join(root, 'fs'))
    run('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', join(root, 'backing')])
    mounted.push(join(root, 'backing'))
    const image = join(root, 'backing', 'image')
    run('truncate', ['-s', '64m', image])
    run('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image])
    loop = run('losetup', ['-f', '--show', image])
    run('mount', ['-t', 'ext4', loop, join(root, 'fs')])
    mounted.push(join(root, 'fs'))
  } catch (error) {
    skipReason = `cannot set up the file system: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`
  }
})

after(() => {
  // Each step on its own: one that fails must not leave the loop device attached.
  const [fs, backing] = [join(root, 'fs'), join(root, 'backing')]
  const steps = [
    () => mounted.includes(fs) && run('umount', [fs]),
    () => loop !== '' && run('losetup', ['-d', loop]),
    () => mounted.includes(backing) && run('umount', [backing]),
  ]
  for (const step of steps) {
    try {
      step()
    } catch (error) {
      console.error(`cleanup: ${String(error)}`)
    }
  }
  if (root !== '') rmSync(root, { recursive: true, force: true })
})

/** Fills the tmpfs under the image, so that the loop device can write no new block. */
function fillBacking(): string {
  const ballast = join(root, 'backing', 'ballast')
  const fd = openSync(ballast, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    closeSync(fd)
  }
  return ballast
}

describe('a failed sync', () => {
  it('leaves the file failed: no later sync() or finish() reports success, even once the device writes again', async (t) => {
    if (skipReason !== '') {
      t.diagnostic(`skipped: ${skipReason}`)
      t.skip(skipReason)
      return
    }
    const manager = new Manager({ dir: join(root, 'fs'), flushIntervalMs: 0 })
    t.after(() => manager.close())
    const file = manager.open('data.aof', { create: true })
    file.write(Buffer.alloc(1024, 1))
    await file.sync()
    // Data in the page cache only, then no room below the file system for it.
    file.write(Buffer.alloc(4 * 1024 * 1024, 2))
    const ballast = fillBacking()
    const first = await file.sync().then(
      () => null,
      (error: unknown) => error,
    )
    assert.ok(first !== null, 'the sync that could not write must fail')
    rmSync(ballast)
    // The device writes again: a plain fdatasync of the file now succeeds (the kernel reported
    // the error once), but the data it dropped is gone. aofkit's sync must not say otherwise.
    const probe = openSync(join(root, 'fs', 'data.aof'), 'r+')
    fdatasyncSync(probe)
    closeSync(probe)
    for (const again of [() => file.sync(), () => file.sync(), () => (file.write(Buffer.from('more')), file.sync())]) {
      await assert.rejects(again(), (error: unknown) => {
        assert.equal((error as { code?: string }).code, (first as { code?: string }).code)
        assert.match((error as Error).message, /an earlier write-back failed/)
        return true
      })
    }
    await assert.rejects(file.finish(), (error: unknown) => (error as { code?: string }).code !== undefined)
    assert.notEqual((first as { code?: string }).code, ErrorCode.Closed)
  })
})
