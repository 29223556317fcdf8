// A full disk under the non-blocking writes: the background growth's failure reaches the
// writer as ERR_AOF_NO_SPACE (not ERR_AOF_WOULD_BLOCK forever), the data stays intact, and
// writes go on once space is freed. Runs on a small tmpfs, so it needs root; otherwise it is
// skipped with the reason.
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'

import { ErrorCode, Manager, isAofkitError } from '../../src/index.ts'
import type { AppendOnlyFile } from '../../src/index.ts'
import { mountFor } from '../helpers/mount.ts'

const CHUNK = 16 * 1024

/**
 * Writes `CHUNK`-byte chunks with `write` until it throws something other than
 * ERR_AOF_WOULD_BLOCK, yielding to the event loop after each WOULD_BLOCK, up to a deadline.
 * Returns the error and how many chunks were written.
 */
async function fill(write: (chunk: Uint8Array) => void, first: number): Promise<{ error: unknown; written: number }> {
  let written = 0
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    try {
      write(new Uint8Array(CHUNK).fill((first + written) % 251))
      written++
    } catch (error) {
      if (!(isAofkitError(error) && error.code === ErrorCode.WouldBlock)) return { error, written }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  }
  return { error: new Error('still ERR_AOF_WOULD_BLOCK at the deadline'), written }
}

function expected(chunks: number): Buffer {
  return Buffer.concat(Array.from({ length: chunks }, (_, k) => Buffer.alloc(CHUNK, k % 251)))
}

function open(t: TestContext, dir: string, name: string): { manager: Manager; file: AppendOnlyFile } {
  const manager = new Manager({ dir, flushIntervalMs: 0 })
  t.after(() => manager.close())
  // Steps of 64 KiB: growth ahead of the writer, in the background, meets the full disk.
  const file = manager.open(name, { create: true, geometry: { sizeNow: 64 * 1024, growthStep: 64 * 1024, sizeUpper: 64 * 1024 * 1024 } })
  return { manager, file }
}

describe('a full disk under non-blocking writes', () => {
  for (const kind of ['writeNonBlocking', 'appendNonBlocking'] as const) {
    it(`${kind} reports ERR_AOF_NO_SPACE, keeps the data, and writes again once space is freed`, async (t) => {
      const mountPoint = mountFor(t, 'tmpfs', 'size=1m')
      if (mountPoint === null) return
      const { file } = open(t, mountPoint, `${kind}.aof`)
      const write =
        kind === 'writeNonBlocking'
          ? (chunk: Uint8Array): void => void file.writeNonBlocking(chunk)
          : (chunk: Uint8Array): void => void file.appendNonBlocking(chunk.length, (event) => (event.tail.set(chunk), chunk.length))
      // Room to free later, once the disk is full.
      const ballast = join(mountPoint, `${kind}.ballast`)
      writeFileSync(ballast, Buffer.alloc(256 * 1024))

      const first = await fill(write, 0)
      assert.equal((first.error as { code?: string }).code, ErrorCode.NoSpace, String(first.error))
      assert.ok(first.written * CHUNK > 256 * 1024, `only ${first.written} chunks fitted on a 1 MiB tmpfs`)
      assert.equal(file.size, first.written * CHUNK)
      assert.ok(Buffer.from(file.contents()).equals(expected(first.written)))

      rmSync(ballast)
      const second = await fill(write, first.written)
      assert.equal((second.error as { code?: string }).code, ErrorCode.NoSpace, String(second.error))
      assert.ok(second.written * CHUNK >= 128 * 1024, `only ${second.written} more chunks once 256 KiB were freed`)
      assert.ok(Buffer.from(file.contents()).equals(expected(first.written + second.written)))
    })
  }
})
