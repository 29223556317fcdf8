// Guarantee 3: a full disk fails the write that needed the space with ERR_AOF_NO_SPACE (not a
// SIGBUS), earlier data stays intact, and the file reopens. Runs on a 2 MiB tmpfs, so it needs
// root; otherwise it is skipped with the reason. The writer runs in a child so that a SIGBUS
// shows as a signal exit and fails the test instead of killing the test runner.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { FileState, Manager } from '../../src/index.ts'
import { concat, crashRecord } from '../helpers/aof-model.ts'
import { spawnHelper } from '../helpers/child.ts'
import { mountFor } from '../helpers/mount.ts'

const SEED = 4242

describe('a full disk', () => {
  it('fails the write that needs space with ERR_AOF_NO_SPACE, keeps earlier data, and reopens', async (t) => {
    const mountPoint = mountFor(t, 'tmpfs', 'size=2m')
    if (mountPoint === null) return
    const path = join(mountPoint, 'full.aof')
    const child = spawnHelper('fill-writer.ts', [path, String(SEED)])
    const { code, signal } = await child.exited
    assert.equal(signal, null, `the writer died of ${signal} instead of getting an error; stderr: ${child.stderr()}`)
    assert.equal(code, 0, `the writer failed: ${child.stderr()}`)
    const out = child.stdout()
    const match = /^(\.*)E([^;]*);A([^;]*);D$/.exec(out)
    assert.ok(match !== null, `unexpected output from the writer: ${out.slice(-200)}`)
    const acked = match[1]!.length
    assert.equal(match[2], 'ERR_AOF_NO_SPACE')
    assert.equal(match[3], 'ERR_AOF_NO_SPACE', 'retrying the same write must fail the same way')
    // The disk must really have been the limit, not something else: 2 MiB minus a little.
    const expected = concat(Array.from({ length: acked }, (_, i) => crashRecord(SEED, i, 32 * 1024)))
    assert.ok(expected.length > 1024 * 1024, `only ${expected.length} bytes fitted on a 2 MiB tmpfs`)

    const manager = new Manager({ flushIntervalMs: 0 })
    try {
      const file = manager.open(path)
      assert.equal(file.state, FileState.Opened)
      assert.ok(Buffer.from(file.contents()).equals(expected), `reopened with ${file.size} bytes, expected ${expected.length}`)
      // The disk is still full: a write that needs more space fails cleanly again, and writes
      // nothing.
      const big = new Uint8Array(4 * 1024 * 1024).fill(7)
      assert.throws(() => file.write(big), { code: 'ERR_AOF_NO_SPACE' })
      assert.equal(file.size, expected.length)
      await file.close()
      const again = manager.open(path)
      assert.ok(Buffer.from(again.contents()).equals(expected))
      await again.close()
    } finally {
      await manager.close()
    }
  })
})
