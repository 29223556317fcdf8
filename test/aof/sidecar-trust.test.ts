// The sidecar of a writer killed with SIGKILL counts only for the very data file it was
// written for. Another file put at the path afterwards — copied over it (same inode), or put
// in its place after `rm` (an inode number the file system reuses) — shorter, longer, torn or
// finished, opens as what it is, never cut back to the dead writer's committed size.
// docs/FORMAT.md, "When the sidecar counts".
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { SHM_VERSION, ShmOffset, readOwnSidecar, sidecarPath } from '../../src/aof/shm.ts'
import { FileState, Manager, RecoveryReadOnly } from '../../src/index.ts'
import { CHECKPOINT_BYTES, TAIL_BYTES } from '../helpers/aof-model.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const GEOMETRY = { sizeNow: 4096, growthStep: 4096, sizeUpper: 1 << 20 }

/** Leaves `paths` as a writer killed after writing 40 × 0xaa and 40 × 0xbb to each leaves them. */
async function killWriters(paths: string[]): Promise<void> {
  const ops = [{ write: 'aa'.repeat(40) }, { write: 'bb'.repeat(40) }]
  const child = spawnHelper('killed-writer.ts', [JSON.stringify(paths.map((path) => ({ path, ops })))])
  const { signal } = await child.exited
  assert.equal(signal, 'SIGKILL', child.stderr())
}

/** A healthy file of another stream, closed cleanly: `length` data bytes of `fill`. */
async function healthyFile(manager: Manager, path: string, length: number, fill: number): Promise<Buffer> {
  const file = manager.open(path, { create: true, geometry: GEOMETRY })
  const data = Buffer.alloc(length, fill)
  file.write(data)
  await file.close()
  rmSync(`${path}-shm`, { force: true })
  return data
}

function setup(t: TestContext): { dir: string; manager: Manager } {
  const dir = tmpDir(t, 'aofkit-trust-')
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  return { dir, manager }
}

/** Opens `path` for writing and checks it holds exactly `expected`, then that it goes on. */
async function assertOpensWith(manager: Manager, path: string, expected: Buffer): Promise<void> {
  const file = manager.open(path, { geometry: GEOMETRY })
  try {
    assert.equal(file.state, FileState.Opened)
    assert.notEqual(file.recovery.source, 'sidecar', `the dead writer's sidecar decided: ${JSON.stringify(file.recovery, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`)
    assert.equal(file.recovery.cutBytes, 0)
    assert.deepEqual(Buffer.from(file.contents()), expected)
    file.write(Buffer.from('more'))
  } finally {
    await file.close()
  }
  const again = manager.open(path, { geometry: GEOMETRY })
  assert.deepEqual(Buffer.from(again.contents()), Buffer.concat([expected, Buffer.from('more')]))
  await again.close()
}

/**
 * A file written by a writer killed with SIGKILL, then torn past its committed data: a record
 * holding a MagicTail, torn right after it, which the magic numbers alone would keep. Returns
 * the file's bytes.
 */
async function tornByItsWriter(target: string): Promise<Buffer> {
  await killWriters([target])
  const raw = readFileSync(target)
  Buffer.alloc(8, 0x77).copy(raw, 80)
  TAIL_BYTES.forEach((byte, i) => (raw[88 + i] = byte))
  writeFileSync(target, raw)
  return raw
}

describe('the sidecar of a killed writer and another file at its path', () => {
  it('a healthy file copied over it (same inode), of the same length, shorter, and longer', async (t) => {
    const { dir, manager } = setup(t)
    const sizes = { same: 3000, shorter: 200, longer: 20_000 }
    const targets = Object.keys(sizes).map((name) => join(dir, `${name}.aof`))
    await killWriters(targets)
    for (const [name, length] of Object.entries(sizes)) {
      const source = join(dir, `${name}.src`)
      const data = await healthyFile(manager, source, length, 0xcc)
      const target = join(dir, `${name}.aof`)
      const inode = statSync(target).ino
      execFileSync('cp', [source, target])
      assert.equal(statSync(target).ino, inode, 'cp writes into the same inode')
      if (name === 'same') assert.equal(statSync(target).size, statSync(source).size)
      await assertOpensWith(manager, target, data)
    }
  })

  it('the command line uses the dead writer’s page only for its own file (its first bytes)', async (t) => {
    const { dir, manager } = setup(t)
    const own = join(dir, 'own.aof')
    const copied = join(dir, 'copied.aof')
    await killWriters([own, copied])
    const data = await healthyFile(manager, join(dir, 'copied.src'), 3000, 0xcc)
    execFileSync('cp', [join(dir, 'copied.src'), copied])
    for (const [path, expected] of [
      [own, true],
      [copied, false],
    ] as const) {
      const fd = openSync(path, 'r')
      try {
        assert.equal(readOwnSidecar(path, fd) !== null, expected, path)
      } finally {
        closeSync(fd)
      }
    }
    await assertOpensWith(manager, copied, data)
  })

  it('a healthy file put in its place after rm (the inode number reused)', async (t) => {
    const { dir, manager } = setup(t)
    const target = join(dir, 'replaced.aof')
    await killWriters([target])
    const source = join(dir, 'replaced.src')
    const data = await healthyFile(manager, source, 3000, 0xdd)
    const inode = statSync(target).ino
    rmSync(target)
    execFileSync('cp', [source, target])
    t.diagnostic(statSync(target).ino === inode ? 'the inode number was reused' : 'the file system gave another inode number')
    await assertOpensWith(manager, target, data)
  })

  it('a torn file of another stream is refused (ERR_AOF_CORRUPTED), not cut to the dead writer’s size', async (t) => {
    const { dir, manager } = setup(t)
    const target = join(dir, 'torn.aof')
    await killWriters([target])
    // Another stream, torn: data, then half a record and no MagicTail.
    const torn = Buffer.alloc(4096)
    Buffer.alloc(500, 0xee).copy(torn, 0)
    CHECKPOINT_BYTES.forEach((byte, i) => (torn[500 + i] = byte))
    Buffer.alloc(300, 0xef).copy(torn, 508)
    const before = Buffer.from(torn)
    for (const replace of ['cp', 'rm+cp']) {
      const source = join(dir, 'torn.src')
      writeFileSync(source, torn)
      if (replace === 'rm+cp') rmSync(target)
      execFileSync('cp', [source, target])
      assert.throws(() => manager.open(target, { geometry: GEOMETRY }), { code: 'ERR_AOF_CORRUPTED' })
      assert.deepEqual(readFileSync(target), before, 'the refused file was not changed')
      // Repair cuts back to that file's own last checkpoint, not to the dead writer's size.
      const repaired = manager.open(target, { geometry: GEOMETRY, recovery: { repair: true } })
      assert.equal(repaired.recovery.source, 'repair')
      assert.equal(repaired.size, 508)
      await repaired.close()
      rmSync(`${target}-shm`, { force: true })
      await killWriters([target])
    }
  })

  it('a finished file copied over it opens finished, with all its data', async (t) => {
    const { dir, manager } = setup(t)
    const target = join(dir, 'finished.aof')
    await killWriters([target])
    const source = join(dir, 'finished.src')
    const file = manager.open(source, { create: true, geometry: GEOMETRY })
    const data = Buffer.alloc(6000, 0x11)
    file.write(data)
    await file.finish()
    await file.close()
    execFileSync('cp', [source, target])
    const opened = manager.open(target, { geometry: GEOMETRY })
    assert.equal(opened.state, FileState.EOF)
    assert.deepEqual(Buffer.from(opened.contents()), data)
    await opened.close()
  })

  it('the dead writer’s own file, torn, is still cut exactly by its sidecar, and read-only open shows its data', async (t) => {
    const { dir, manager } = setup(t)
    const target = join(dir, 'own.aof')
    const raw = await tornByItsWriter(target)
    const committed = Buffer.concat([Buffer.alloc(40, 0xaa), Buffer.alloc(40, 0xbb)])
    const readOnly = manager.open(target, { recovery: RecoveryReadOnly })
    assert.deepEqual([readOnly.state, readOnly.recovery.source], [FileState.EOF, 'sidecar'])
    assert.deepEqual(Buffer.from(readOnly.contents()), committed)
    await readOnly.close()
    assert.deepEqual(readFileSync(target), raw, 'read-only open changed nothing')
    const file = manager.open(target, { geometry: GEOMETRY })
    assert.deepEqual([file.recovery.source, file.recovery.sidecar, file.recovery.cutBytes], ['sidecar', 'trusted', 16])
    assert.deepEqual(Buffer.from(file.contents()), committed)
    await file.close()
  })

  it('a page of another layout version is not used: the magic numbers decide', async (t) => {
    const { dir, manager } = setup(t)
    const target = join(dir, 'older.aof')
    await tornByItsWriter(target)
    // The page as a writer of the layout before this one left it (the same fields would be
    // read with other meanings: its synced size carries no check).
    const page = readFileSync(sidecarPath(target))
    page.writeUInt32LE(SHM_VERSION - 1, ShmOffset.version)
    writeFileSync(sidecarPath(target), page)
    const file = manager.open(target, { geometry: GEOMETRY })
    assert.deepEqual([file.recovery.source, file.recovery.sidecar], ['magic', 'absent'])
    // The magic numbers keep the torn record that the sidecar would have cut.
    assert.equal(file.size, 88)
    await file.close()
  })
})
