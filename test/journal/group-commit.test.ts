import assert from 'node:assert/strict'
import { test } from 'node:test'

import { GroupCommit } from '../../src/journal/group-commit.ts'

test('group commit: callers during a run share the next run; each resolves after a run that began after its call', async () => {
  let runs = 0
  let release: () => void = () => undefined
  const started: number[] = []
  const group = new GroupCommit(async () => {
    runs++
    started.push(runs)
    await new Promise<void>((resolve) => {
      release = resolve
    })
  })
  const first = group.request()
  assert.equal(runs, 1)
  // 100 callers while the first run is in flight: one more run serves them all.
  const waiting = Array.from({ length: 100 }, () => group.request())
  let settled = 0
  for (const promise of waiting) void promise.then(() => settled++)
  release()
  await first
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, 0, 'callers that came during run 1 wait for run 2')
  assert.equal(runs, 2)
  release()
  await Promise.all(waiting)
  assert.equal(runs, 2)
  await group.idle()
})

test('group commit: a failed run rejects its callers, and the next request runs again', async () => {
  let fail = true
  let runs = 0
  const group = new GroupCommit(async () => {
    runs++
    await Promise.resolve()
    if (fail) throw new Error('sync failed')
  })
  await assert.rejects(group.request(), /sync failed/)
  fail = false
  await group.request()
  assert.equal(runs, 2)
})
