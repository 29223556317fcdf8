// The single-writer lock: a lock held by a writer in another process is ERR_AOF_LOCKED (and
// only that), seen the same way through lockExclusive, tryLockExclusive and isLocked; it is free
// again once that writer is killed with SIGKILL, and other flock failures keep their system code.
import assert from 'node:assert/strict'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { isLocked, lockExclusive, tryLockExclusive, unlock } from '../../src/io/lock.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

describe('io/lock', () => {
  it('a writer in another process holds the lock until it is killed', async (t) => {
    const path = join(tmpDir(t), 'held')
    const child = spawnHelper('holder.ts', [path], { stdin: true })
    t.after(() => child.process.kill('SIGKILL'))
    await child.waitFor('R')
    assert.equal(isLocked(path), true)
    const fd = openSync(path, 'r')
    try {
      assert.equal(tryLockExclusive(fd, path), false)
      assert.throws(
        () => lockExclusive(fd, path, 'state log'),
        (error: unknown) => isAofkitError(error, 'ERR_AOF_LOCKED') && error.path === path && /state log '.*' is locked/.test(error.message),
      )
      child.process.kill('SIGKILL')
      await child.exited
      // The kernel drops a dead process's locks with its descriptors.
      assert.equal(isLocked(path), false)
      lockExclusive(fd, path)
      unlock(fd, path)
    } finally {
      closeSync(fd)
    }
  })

  it('two descriptors in one process exclude each other; unlock frees it', (t) => {
    const path = join(tmpDir(t), 'file')
    writeFileSync(path, 'x')
    const first = openSync(path, 'r+')
    const second = openSync(path, 'r')
    try {
      lockExclusive(first, path)
      assert.throws(() => lockExclusive(second, path), (error: unknown) => isAofkitError(error, 'ERR_AOF_LOCKED'))
      assert.equal(isLocked(path), true)
      unlock(first, path)
      assert.equal(tryLockExclusive(second, path), true)
    } finally {
      closeSync(first)
      closeSync(second)
    }
  })

  it('a bad descriptor is a system error, not ERR_AOF_LOCKED', (t) => {
    const path = join(tmpDir(t), 'file')
    writeFileSync(path, 'x')
    const fd = openSync(path, 'r')
    closeSync(fd)
    for (const call of [() => lockExclusive(fd, path), () => tryLockExclusive(fd, path), () => unlock(fd, path)]) {
      assert.throws(call, (error: unknown) => isAofkitError(error) && error.code !== 'ERR_AOF_LOCKED')
    }
    assert.throws(() => isLocked(join(path, 'missing')), (error: unknown) => isAofkitError(error) && error.code !== 'ERR_AOF_LOCKED')
  })
})
