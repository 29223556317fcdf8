// Creating a file: two processes creating the same new file at once (one opens it, the other
// gets ERR_AOF_LOCKED), a full disk (ERR_AOF_NO_SPACE, and no 0-byte data file or sidecar
// left), and a file system without fallocate (the file is extended with zeros instead).
// Mounts need root; without it those tests are skipped with the reason.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { ErrorCode, FileState, Manager } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { mountFor } from '../helpers/mount.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

describe('creating a file', () => {
  it('two processes creating the same new files at once: one opens each, the other gets ERR_AOF_LOCKED', async (t) => {
    const dir = tmpDir(t, 'aofkit-race-')
    const count = 150
    const children = [0, 1].map(() => spawnHelper('race-creator.ts', [dir, String(count)], { stdin: true }))
    t.after(() => {
      for (const child of children) child.process.stdin?.end()
    })
    await Promise.all(children.map((child) => child.waitFor('ready')))
    for (const child of children) child.process.stdin!.write('go\n')
    await Promise.all(children.map((child) => child.waitFor('done')))
    const outcomes = children.map((child) => new Map(child.stdout().trim().split('\n').filter((line) => /^\d+ /.test(line)).map((line) => line.split(' ') as [string, string])))
    let contested = 0
    for (let i = 0; i < count; i++) {
      const pair = outcomes.map((outcome) => outcome.get(String(i))).sort()
      assert.deepEqual(pair, [ErrorCode.Locked, 'ok'], `file ${i}: ${pair.join(', ')}`)
      contested++
    }
    assert.equal(contested, count)
    for (const child of children) child.process.stdin!.end()
    await Promise.all(children.map((child) => child.exited))
  })

  it('on a full disk is ERR_AOF_NO_SPACE and leaves no data file and no sidecar', async (t) => {
    const point = mountFor(t, 'tmpfs', 'size=1m')
    if (point === null) return
    // Fill the disk, leaving less than the file's first allocation (512 KiB of sizeNow).
    writeFileSync(join(point, 'ballast'), Buffer.alloc(900 * 1024))
    const manager = new Manager({ dir: point, flushIntervalMs: 0 })
    t.after(() => manager.close())
    assert.throws(
      () => manager.open('full.aof', { create: true, geometry: { sizeNow: 512 << 10, sizeUpper: 4 << 20 } }),
      (error: unknown) => (error as { code?: unknown }).code === ErrorCode.NoSpace,
    )
    assert.deepEqual(readdirSync(point).sort(), ['ballast'])
    // With room, the same call works.
    execFileSync('rm', [join(point, 'ballast')])
    const file = manager.open('full.aof', { create: true, geometry: { sizeNow: 512 << 10, sizeUpper: 4 << 20 } })
    assert.equal(file.state, FileState.Opened)
    await file.close()
  })

  it('on a file system without fallocate (ramfs), extends the file with zeros', async (t) => {
    const point = mountFor(t, 'ramfs', 'mode=0755')
    if (point === null) return
    const manager = new Manager({ dir: point, flushIntervalMs: 0 })
    t.after(() => manager.close())
    const file = manager.open('plain.aof', { create: true, geometry: { sizeNow: 4096, growthStep: 4096, sizeUpper: 1 << 20 } })
    const records: Buffer[] = []
    for (let i = 0; i < 40; i++) {
      const record = Buffer.alloc(1000, i + 1)
      records.push(record)
      file.write(record)
    }
    await file.sync()
    await file.close()
    const again = manager.open('plain.aof')
    assert.deepEqual(Buffer.from(again.contents()), Buffer.concat(records))
    again.write(Buffer.from('more'))
    await again.close()
    assert.ok(existsSync(join(point, 'plain.aof-shm')))
  })
})
