// What an open refuses, and what a refused or failed open leaves behind. The `-shm` sidecar is
// opened without following links and used only if it is a regular file of ours (a link there
// would make the writer grow and overwrite the link's target); a data path that is not a
// regular file (a FIFO, /dev/null) is refused without blocking; a failed open leaves no
// sidecar and no half-made file. docs/FORMAT.md ("What may stand at <file>-shm"), docs/ERRORS.md.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { AppendOnlyFile, ErrorCode, FileState, Manager, RecoveryReadOnly } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const code = (expected: string) => (error: unknown) => {
  assert.equal((error as { code?: unknown }).code, expected, String(error))
  return true
}

function setup(t: TestContext): { dir: string; manager: Manager } {
  const dir = tmpDir(t, 'aofkit-refuse-')
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  return { dir, manager }
}

/** An existing append-only file with some data, closed cleanly. */
async function existing(manager: Manager, path: string): Promise<void> {
  const file = manager.open(path, { create: true })
  file.write(Buffer.from('existing data'))
  await file.close()
}

describe('what stands at <file>-shm', () => {
  const victimContent = Buffer.from('a file the writer must never touch\n')

  /** Each thing that is not a sidecar of ours, put at `shm`; returns what to check after. */
  const impostors: Array<{ name: string; make: (dir: string, shm: string) => (() => void) | void }> = [
    {
      name: 'a symbolic link to another file',
      make: (dir, shm) => {
        const victim = join(dir, 'victim')
        writeFileSync(victim, victimContent)
        symlinkSync(victim, shm)
        return () => assert.deepEqual(readFileSync(victim), victimContent, 'the link target was changed')
      },
    },
    {
      name: 'a dangling symbolic link',
      make: (dir, shm) => {
        symlinkSync(join(dir, 'nowhere'), shm)
        return () => assert.equal(existsSync(join(dir, 'nowhere')), false, 'the link target was created')
      },
    },
    {
      name: 'a hard link to another file',
      make: (dir, shm) => {
        const victim = join(dir, 'victim')
        writeFileSync(victim, Buffer.alloc(4096, 7))
        linkSync(victim, shm)
        return () => assert.deepEqual(readFileSync(victim), Buffer.alloc(4096, 7), 'the linked file was changed')
      },
    },
    { name: 'a directory', make: (_, shm) => mkdirSync(shm) },
    {
      name: 'a FIFO',
      make: (_, shm) => {
        execFileSync('mkfifo', [shm])
      },
    },
    {
      name: "another user's file",
      make: (_, shm) => {
        writeFileSync(shm, Buffer.alloc(4096))
        chownSync(shm, 12345, 12345)
      },
    },
    { name: 'a file of the wrong size', make: (_, shm) => writeFileSync(shm, Buffer.alloc(100, 1)) },
  ]

  for (const impostor of impostors) {
    it(`is refused with ERR_AOF_BAD_SIDECAR and left alone: ${impostor.name}`, async (t) => {
      if (impostor.name === "another user's file" && process.getuid?.() !== 0) {
        t.skip('needs root to chown')
        return
      }
      const { dir, manager } = setup(t)
      // A new file: the create fails and leaves no data file behind.
      const fresh = join(dir, 'fresh.aof')
      const checkFresh = impostor.make(dir, `${fresh}-shm`)
      assert.throws(() => manager.open(fresh, { create: true }), code(ErrorCode.BadSidecar))
      assert.equal(existsSync(fresh), false, 'the failed create left its data file')
      checkFresh?.()
      // An existing file: refused by the writer, the read-only open and the reader alike.
      const old = join(dir, 'old.aof')
      await existing(manager, old)
      execFileSync('rm', ['-rf', `${old}-shm`])
      const checkOld = impostor.make(dir, `${old}-shm`)
      assert.throws(() => manager.open(old), code(ErrorCode.BadSidecar))
      assert.throws(() => manager.open(old, { recovery: RecoveryReadOnly }), code(ErrorCode.BadSidecar))
      assert.throws(() => AppendOnlyFile.openReader(old).close(), code(ErrorCode.BadSidecar))
      checkOld?.()
      assert.deepEqual(readFileSync(old).subarray(0, 13), Buffer.from('existing data'))
    })
  }

  it('a sidecar of the right kind is used: created 0644 by the writer, reopened, and one left empty by a crash', async (t) => {
    const { dir, manager } = setup(t)
    const path = join(dir, 'ok.aof')
    const file = manager.open(path, { create: true })
    file.write(Buffer.from('abc'))
    assert.equal(statSync(`${path}-shm`).size, 4096)
    await file.close()
    writeFileSync(`${path}-shm`, Buffer.alloc(0))
    const again = manager.open(path)
    assert.deepEqual(Buffer.from(again.contents()), Buffer.from('abc'))
    assert.equal(statSync(`${path}-shm`).size, 4096)
    await again.close()
  })
})

describe('a failed open leaves nothing behind', () => {
  it('ERR_AOF_CORRUPTED leaves no <file>-shm', (t) => {
    const { dir, manager } = setup(t)
    const path = join(dir, 'corrupt.aof')
    writeFileSync(path, Buffer.concat([Buffer.from('no magic at the end'), Buffer.alloc(100)]))
    assert.throws(() => manager.open(path), code(ErrorCode.Corrupted))
    assert.equal(existsSync(`${path}-shm`), false)
  })

  it('a finished file opens without creating a sidecar', async (t) => {
    const { dir, manager } = setup(t)
    const path = join(dir, 'finished.aof')
    const file = manager.open(path, { create: true })
    file.write(Buffer.from('done'))
    await file.finish()
    await file.close()
    execFileSync('rm', ['-f', `${path}-shm`])
    const again = manager.open(path)
    assert.equal(again.state, FileState.EOF)
    await again.close()
    assert.equal(existsSync(`${path}-shm`), false)
  })
})

describe('a path that is not a regular file', () => {
  /** Every way of opening a path the library has: the append-only file's and the state log's. */
  const ways = ['write', 'create', 'read-only', 'reader', 'restore', 'state-writer', 'compact', 'salvage']

  it('character devices, a FIFO, a socket, a directory and a symbolic link to each are refused by every opener, without blocking', async (t) => {
    const dir = tmpDir(t, 'aofkit-kinds-')
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const socket = join(dir, 'socket')
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    t.after(() => server.close())
    const directory = join(dir, 'directory')
    mkdirSync(directory)
    const kinds: Array<{ path: string; code: string }> = [
      { path: '/dev/null', code: ErrorCode.NotRegularFile },
      { path: '/dev/zero', code: ErrorCode.NotRegularFile },
      { path: fifo, code: ErrorCode.NotRegularFile },
      { path: socket, code: ErrorCode.NotRegularFile },
      { path: directory, code: ErrorCode.IsDirectory },
    ]
    for (const kind of [...kinds]) {
      const link = join(dir, `link-to-${kind.path.replaceAll('/', '_')}`)
      symlinkSync(kind.path, link)
      kinds.push({ path: link, code: kind.code })
    }
    for (const { path, code: expected } of kinds) {
      const child = spawnHelper('open-probe.ts', [path, ...ways])
      // A way that blocks never prints its line: wait for all of them up to a deadline.
      const deadline = setTimeout(() => child.process.kill('SIGKILL'), 30_000)
      const { signal } = await child.exited
      clearTimeout(deadline)
      const lines = child.stdout().trim().split('\n')
      assert.equal(signal, null, `${path}: the child was killed, an open blocked; it printed: ${lines.join(', ')}`)
      assert.deepEqual(lines, [...ways.map((way) => `${way} ${expected}`), 'done'], path)
    }
    // Nothing was created beside them (no sidecar, no compaction or backup file).
    assert.deepEqual(readdirSync(dir).sort(), ['directory', 'fifo', 'socket', ...kinds.slice(5).map((kind) => basename(kind.path))].sort())
    assert.deepEqual(readdirSync(directory), [])
  })
})
