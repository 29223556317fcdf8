// GroupSync, the group commit behind sync(): callers share fdatasyncs. Driven here by a sync
// function the test completes by hand, so every interleaving is exact.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { GroupSync } from '../../src/aof/group-sync.ts'

/** A sync function whose calls the test completes one by one; `size` is what is written. */
function harness(): {
  group: GroupSync
  calls: { resolve: () => void; reject: (error: Error) => void }[]
  write: (bytes: number) => void
} {
  let size = 0
  const calls: { resolve: () => void; reject: (error: Error) => void }[] = []
  const group = new GroupSync(
    () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
    () => size,
  )
  return { group, calls, write: (bytes) => (size += bytes) }
}

/** Lets every settled promise run its callbacks. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('with nothing written since the last sync, sync() resolves without a system call', async () => {
  const { group, calls, write } = harness()
  await group.sync()
  assert.equal(calls.length, 0)
  write(10)
  const first = group.sync()
  await settle()
  calls[0]!.resolve()
  await first
  await group.sync()
  assert.equal(calls.length, 1, 'the bytes were covered already')
  write(1)
  const more = group.sync()
  await settle()
  assert.equal(calls.length, 2, 'a byte written after the sync needs another')
  calls[1]!.resolve()
  await more
})

test('callers whose bytes the running sync covers share it', async () => {
  const { group, calls, write } = harness()
  write(10)
  const all = [group.sync(), group.sync(), group.sync()]
  await settle()
  assert.equal(calls.length, 1)
  const later = group.sync() // nothing new written: the running sync covers it too
  await settle()
  assert.equal(calls.length, 1)
  calls[0]!.resolve()
  await Promise.all([...all, later])
  assert.equal(calls.length, 1)
})

test('callers with new bytes during a sync share one more, which covers what was written when it starts', async () => {
  const { group, calls, write } = harness()
  write(10)
  const first = group.sync()
  await settle()
  write(5)
  const second = [group.sync(), group.sync()]
  write(5)
  const third = group.sync() // queued already: joins it
  await settle()
  assert.equal(calls.length, 1, 'the next sync waits for the running one')
  let secondDone = false
  void Promise.all(second).then(() => (secondDone = true))
  calls[0]!.resolve()
  await first
  await settle()
  assert.equal(calls.length, 2)
  assert.equal(secondDone, false, 'not durable until its own sync completes')
  calls[1]!.resolve()
  await Promise.all([...second, third])
  await group.sync() // all 20 bytes were covered by the second sync
  assert.equal(calls.length, 2)
})

test('a failed sync rejects its callers, the next sync retries, and idle() waits for both', async () => {
  const { group, calls, write } = harness()
  write(10)
  const failing = group.sync()
  await settle()
  calls[0]!.reject(new Error('EIO'))
  await assert.rejects(failing, /EIO/)
  const retry = group.sync() // the failed bytes are not counted as durable
  await settle()
  assert.equal(calls.length, 2)
  let idle = false
  const idling = group.idle().then(() => (idle = true))
  await settle()
  assert.equal(idle, false, 'idle() waits for the running sync')
  calls[1]!.resolve()
  await retry
  await idling
  assert.equal(idle, true)
})

test('a sync queued behind a failing one still runs, and its callers get its own outcome', async () => {
  const { group, calls, write } = harness()
  write(10)
  const failing = group.sync()
  await settle()
  write(10)
  const queued = group.sync()
  calls[0]!.reject(new Error('EIO'))
  await assert.rejects(failing, /EIO/)
  await settle()
  assert.equal(calls.length, 2)
  calls[1]!.resolve()
  await queued
  await group.idle()
})
