// Durable file changes: a durable truncate cuts and keeps the rest, a durable rename replaces
// the target, and each failure is an AofkitError with a stable code and the system error as
// its cause (never a raw system error).
import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import type { ErrorCode } from '../../src/errors.ts'
import { fdatasyncAsync, fdatasyncSync, rename, renameDurably, syncDirectory, truncateDurably } from '../../src/io/durable.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function coded(code: ErrorCode) {
  return (error: unknown): boolean => isAofkitError(error, code) && error.cause !== undefined
}

describe('io/durable', () => {
  it('truncateDurably cuts the file and keeps what is before the cut', async (t) => {
    const path = join(tmpDir(t), 'file')
    writeFileSync(path, 'keep-cut')
    const fd = openSync(path, 'r+')
    try {
      truncateDurably(fd, 4, path)
      fdatasyncSync(fd, path)
      await fdatasyncAsync(fd, path)
    } finally {
      closeSync(fd)
    }
    assert.equal(readFileSync(path, 'utf8'), 'keep')
  })

  it('renameDurably replaces the target', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'new'), 'new')
    writeFileSync(join(dir, 'old'), 'old')
    await renameDurably(join(dir, 'new'), join(dir, 'old'))
    assert.equal(readFileSync(join(dir, 'old'), 'utf8'), 'new')
    assert.equal(existsSync(join(dir, 'new')), false)
  })

  it('failures are coded AofkitErrors', async (t) => {
    const dir = tmpDir(t)
    assert.throws(() => rename(join(dir, 'missing'), join(dir, 'to')), coded('ERR_AOF_NOT_FOUND'))
    await assert.rejects(renameDurably(join(dir, 'missing'), join(dir, 'to')), coded('ERR_AOF_NOT_FOUND'))
    await assert.rejects(syncDirectory(join(dir, 'missing')), coded('ERR_AOF_NOT_FOUND'))
    const path = join(dir, 'file')
    writeFileSync(path, 'x')
    const fd = openSync(path, 'r')
    closeSync(fd)
    assert.throws(() => fdatasyncSync(fd, path), coded('ERR_AOF_IO'))
    await assert.rejects(fdatasyncAsync(fd, path), coded('ERR_AOF_IO'))
    assert.throws(() => truncateDurably(fd, 0, path), coded('ERR_AOF_IO'))
  })
})
