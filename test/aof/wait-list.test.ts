import assert from 'node:assert/strict'
import { test } from 'node:test'

import { WaitList } from '../../src/aof/wait-list.ts'

test('a callback added twice before a resume runs once', () => {
  const list = new WaitList()
  let runs = 0
  const resume = (): void => void runs++
  list.add(resume)
  list.add(resume)
  assert.equal(list.size, 1)
  list.resumeAll()
  list.resumeAll()
  assert.equal(runs, 1)
  assert.equal(list.size, 0)
})

test('callbacks that wait again during a run wait for the next run', () => {
  const list = new WaitList()
  let runs = 0
  const resume = (): void => {
    runs++
    list.add(resume)
  }
  list.add(resume)
  list.resumeAll()
  assert.equal(runs, 1)
  assert.equal(list.size, 1)
  list.resumeAll()
  assert.equal(runs, 2)
})

test('a callback deleted during a run, before its turn, does not run', () => {
  const list = new WaitList()
  const ran: string[] = []
  const second = (): void => void ran.push('second')
  const first = (): void => {
    ran.push('first')
    list.delete(second)
  }
  list.add(first)
  list.add(second)
  list.resumeAll()
  assert.deepEqual(ran, ['first'])
  assert.equal(list.size, 0)
})

test('a run inside a run resumes only what waits anew, and the sets are not mixed up', () => {
  const list = new WaitList()
  const ran: string[] = []
  const inner = (): void => void ran.push('inner')
  const outer = (): void => {
    ran.push('outer')
    list.add(inner)
    list.resumeAll()
  }
  const last = (): void => void ran.push('last')
  list.add(outer)
  list.add(last)
  list.resumeAll()
  assert.deepEqual(ran, ['outer', 'inner', 'last'])
  assert.equal(list.size, 0)
  // The spare sets come back empty: a new waiter runs exactly once.
  list.add(last)
  list.resumeAll()
  list.resumeAll()
  assert.deepEqual(ran, ['outer', 'inner', 'last', 'last'])
})

test('when a callback throws, those after it keep waiting', () => {
  const list = new WaitList()
  const ran: string[] = []
  const thrower = (): void => {
    ran.push('thrower')
    throw new Error('consumer failed')
  }
  const after = (): void => void ran.push('after')
  list.add(thrower)
  list.add(after)
  assert.throws(() => list.resumeAll(), /consumer failed/)
  assert.deepEqual(ran, ['thrower'])
  assert.equal(list.size, 1)
  list.resumeAll()
  assert.deepEqual(ran, ['thrower', 'after'])
})
