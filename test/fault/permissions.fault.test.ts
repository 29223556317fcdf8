// Guarantee 6 of the README: permissions are judged by the owner's mode bits (so they hold even for
// root), a directory or a missing file is refused with its code, and only one writer may hold a
// file, whether the other writer is in another process or in this one.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { FileState, Manager } from '../../src/index.ts'
import type { AppendOnlyFile } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const DATA = Buffer.from('some data that was written')

function code(expected: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, expected, String(error))
    return true
  }
}

/** A manager that is closed when the test ends. */
function manager(t: { after(fn: () => Promise<void>): void }): Manager {
  const m = new Manager({ flushIntervalMs: 0 })
  t.after(() => m.close())
  return m
}

/** Creates a live (unfinished) file holding DATA, closed. */
async function liveFile(dir: string, name = 'live.aof'): Promise<string> {
  const path = join(dir, name)
  const m = new Manager({ flushIntervalMs: 0 })
  const file = m.open(path, { create: true })
  file.write(DATA)
  await m.close()
  return path
}

function assertReadOnlyAt(file: AppendOnlyFile, data: Uint8Array): void {
  assert.equal(file.state, FileState.EOF)
  assert.equal(file.size, data.length)
  assert.deepEqual(Buffer.from(file.contents()), Buffer.from(data))
  assert.throws(() => file.write(Buffer.from('x')), code('ERR_AOF_READ_ONLY'))
  assert.throws(() => file.append(1, () => 1), code('ERR_AOF_READ_ONLY'))
  assert.throws(() => file.checkpoint(), code('ERR_AOF_READ_ONLY'))
}

describe('permissions and locks', () => {
  it('opens a file without write permission read-only in EOF, even as root, and never writes it', async (t) => {
    const dir = tmpDir(t)
    const path = await liveFile(dir)
    chmodSync(path, 0o444)
    const before = readFileSync(path)
    const file = manager(t).open(path)
    assertReadOnlyAt(file, DATA)
    await file.close()
    assert.ok(readFileSync(path).equals(before), 'a read-only open modified the file')
    assert.equal(statSync(path).mode & 0o777, 0o444)
  })

  for (const mode of [0o000, 0o200]) {
    it(`refuses a file with mode ${mode.toString(8).padStart(3, '0')} with ERR_AOF_READ_PERMISSION`, async (t) => {
      const dir = tmpDir(t)
      const path = await liveFile(dir)
      chmodSync(path, mode)
      assert.throws(() => manager(t).open(path), code('ERR_AOF_READ_PERMISSION'))
      chmodSync(path, 0o644)
      const file = manager(t).open(path)
      assert.deepEqual(Buffer.from(file.contents()), DATA, 'the refused open changed the data')
      await file.close()
    })
  }

  it('refuses a directory with ERR_AOF_IS_DIRECTORY, with or without create', (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'a-directory')
    mkdirSync(path)
    assert.throws(() => manager(t).open(path), code('ERR_AOF_IS_DIRECTORY'))
    assert.throws(() => manager(t).open(path, { create: true }), code('ERR_AOF_IS_DIRECTORY'))
  })

  it('refuses a missing file without create with ERR_AOF_NOT_FOUND, and creates nothing', (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'missing.aof')
    assert.throws(() => manager(t).open(path), code('ERR_AOF_NOT_FOUND'))
    assert.throws(() => manager(t).open(path, { create: false }), code('ERR_AOF_NOT_FOUND'))
    assert.equal(existsSync(path), false)
    assert.equal(existsSync(`${path}-shm`), false)
  })

  it('refuses a second writer in another process with ERR_AOF_LOCKED, and frees the lock when it exits', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'held.aof')
    const child = spawnHelper('holder.ts', [path], { stdin: true })
    t.after(() => {
      child.process.kill('SIGKILL')
    })
    await child.waitFor('R')
    assert.throws(() => manager(t).open(path), code('ERR_AOF_LOCKED'))
    // Read-only access needs no lock.
    const reader = manager(t).open(path, { recovery: { readOnly: true } })
    assert.equal(reader.state, FileState.EOF)
    assert.deepEqual(Buffer.from(reader.contents()), Buffer.from('held'))
    await reader.close()

    child.process.stdin?.end()
    const { code: exitCode, signal } = await child.exited
    assert.deepEqual([exitCode, signal], [0, null], child.stderr())
    const file = manager(t).open(path)
    assert.equal(file.state, FileState.Opened)
    assert.deepEqual(Buffer.from(file.contents()), Buffer.from('held'))
    await file.close()
  })

  it('frees the lock of a writer killed with SIGKILL', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'killed.aof')
    const child = spawnHelper('holder.ts', [path], { stdin: true })
    await child.waitFor('R')
    assert.throws(() => manager(t).open(path), code('ERR_AOF_LOCKED'))
    child.process.kill('SIGKILL')
    await child.exited
    const file = manager(t).open(path)
    assert.equal(file.state, FileState.Opened)
    assert.deepEqual(Buffer.from(file.contents()), Buffer.from('held'))
    await file.close()
  })

  it('refuses a second manager in the same process with ERR_AOF_LOCKED until the first closes', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'twice.aof')
    const first = manager(t)
    const second = manager(t)
    const file = first.open(path, { create: true })
    file.write(DATA)
    assert.throws(() => second.open(path), code('ERR_AOF_LOCKED'))
    assert.throws(() => second.open(path, { create: true }), code('ERR_AOF_LOCKED'))
    // The refused open must not have disturbed the writer.
    file.write(DATA)
    assert.equal(first.open(path), file, 'the same manager hands out the open instance')
    // Opened twice through `first`: the lock goes with the second close.
    await file.close()
    assert.throws(() => second.open(path), code('ERR_AOF_LOCKED'))
    await file.close()
    const again = second.open(path)
    assert.deepEqual(Buffer.from(again.contents()), Buffer.concat([DATA, DATA]))
    await again.close()
  })

  it('reopens a finished file in EOF with the same size and contents, in any manager', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'finished.aof')
    const m = manager(t)
    const file = m.open(path, { create: true })
    file.write(DATA)
    file.checkpoint()
    file.write(Buffer.from('after the checkpoint'))
    const size = file.size
    const data = Buffer.from(file.contents())
    await file.finish()
    assert.equal(file.state, FileState.EOF)
    await file.close()
    assert.equal(statSync(path).size, size + 8, 'finish() truncates to the data and its MagicCheckpoint')
    assert.equal(statSync(path).mode & 0o222, 0, 'finish() makes the file read-only')

    for (const opener of [m, manager(t)]) {
      const reopened = opener.open(path)
      assertReadOnlyAt(reopened, data)
      await reopened.close()
    }
    // Even with its write bit back, a finished file stays finished.
    chmodSync(path, 0o644)
    const writable = manager(t).open(path)
    assertReadOnlyAt(writable, data)
    await writable.close()
    assert.equal(statSync(path).size, size + 8)
  })
})
