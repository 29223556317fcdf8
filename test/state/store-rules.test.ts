// A StateStore always opens again, and what apply sees is what a replay sees: an update or a
// state that does not survive serialize then deserialize is refused before anything is logged
// (undefined, a function, a symbol, a BigInt; an apply that returns undefined), a rejected
// update changes nothing even when apply mutates, a failed apply changes nothing, apply gets
// the round-tripped value live as on replay (a Date arrives as its JSON string both times), an
// entry the application cannot take back fails open with ERR_STATE_ENTRY_REJECTED naming its
// offset, and a store in a small AppendOnlyFile keeps accepting updates by compacting.
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { restore } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import type { StateStoreOptions } from '../../src/state/state-store.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

type Items = { items: unknown[] }

function options(path: string, extra: Partial<StateStoreOptions<Items, unknown>> = {}): StateStoreOptions<Items, unknown> {
  return {
    path,
    initial: { items: [] },
    // Mutates its state, as the documentation allows.
    apply: (state, update) => {
      state.items.push(update)
      return state
    },
    ...extra,
  }
}

const invalid = (error: unknown): boolean => isAofkitError(error, 'ERR_AOF_INVALID_ARGUMENT')

describe('StateStore: what is logged can be restored', () => {
  it('refuses updates that do not survive serialization; nothing changes, nothing is logged', async (t) => {
    const path = join(tmpDir(t), 'store.log')
    for (const every of [0, 1, 1000]) {
      const store = await StateStore.open(options(path, { snapshotEvery: every }))
      await store.update({ good: every })
      const size = store.writer.size
      const before = structuredClone(store.state)
      for (const bad of [undefined, () => 1, Symbol('s'), 10n, { nested: 10n }]) {
        await assert.rejects(store.update(bad), invalid, `${String(typeof bad)} with snapshotEvery ${every}`)
        assert.deepEqual(store.state, before, 'the state is unchanged (apply mutates, but ran on a copy or not at all)')
        assert.equal(store.writer.size, size, 'nothing was logged')
      }
      await store.update({ after: every })
      await store.close()
    }
    const reopened = await StateStore.open(options(path))
    assert.deepEqual(reopened.state.items, [{ good: 0 }, { after: 0 }, { good: 1 }, { after: 1 }, { good: 1000 }, { after: 1000 }])
    await reopened.close()
  })

  it('refuses an apply that returns undefined, and a due snapshot of a state that cannot be serialized', async (t) => {
    const path = join(tmpDir(t), 'store.log')
    const store = await StateStore.open<Items, unknown>({
      ...options(path, { snapshotEvery: 1 }),
      apply: (state, update) => {
        if (update === 'forget') return undefined as unknown as Items
        state.items.push(update === 'bigint' ? { n: 1n } : update)
        return state
      },
    })
    await store.update('one')
    const size = store.writer.size
    await assert.rejects(store.update('forget'), invalid)
    await assert.rejects(store.update('bigint'), invalid)
    assert.equal(store.writer.size, size)
    assert.deepEqual(store.state.items, ['one'])
    await store.update('two')
    await store.close()
    const reopened = await StateStore.open(options(path))
    assert.deepEqual(reopened.state.items, ['one', 'two'])
    await reopened.close()
  })

  it('a failed apply changes nothing, even when it mutated before throwing', async (t) => {
    const path = join(tmpDir(t), 'store.log')
    const store = await StateStore.open<Items, unknown>({
      ...options(path),
      apply: (state, update) => {
        state.items.push(update)
        if (update === 'boom') throw new Error('boom')
        return state
      },
    })
    await store.update(1)
    const size = store.writer.size
    await assert.rejects(store.update('boom'), /boom/)
    assert.deepEqual(store.state.items, [1])
    assert.equal(store.writer.size, size)
    await store.update(2)
    assert.deepEqual(store.state.items, [1, 2])
    await store.close()
  })

  it('apply gets the same value live and on replay', async (t) => {
    const path = join(tmpDir(t), 'store.log')
    const seen: string[] = []
    const dated = (): StateStoreOptions<Items, unknown> => ({
      ...options(path),
      apply: (state, update) => {
        const at = (update as { at: unknown }).at
        seen.push(typeof at)
        state.items.push(at)
        return state
      },
    })
    const store = await StateStore.open(dated())
    await store.update({ at: new Date(0) })
    const live = structuredClone(store.state)
    await store.close()
    const reopened = await StateStore.open(dated())
    assert.deepEqual(seen, ['string', 'string'])
    assert.deepEqual(reopened.state, live)
    await reopened.close()
  })
})

describe('StateStore: an entry the application cannot take back', () => {
  it('fails open with ERR_STATE_ENTRY_REJECTED naming the offset of the update or snapshot', async (t) => {
    const dir = tmpDir(t)
    for (const where of ['update', 'snapshot', 'apply'] as const) {
      const path = join(dir, `${where}.log`)
      const store = await StateStore.open(options(path, { snapshotEvery: 0 }))
      await store.update('a')
      if (where === 'snapshot') await store.snapshot()
      await store.update('poison')
      await store.update('b')
      await store.close()
      // Where the entry is: the snapshot's offset is the epoch; an update's, found by restoring.
      const restored = restore(path)
      let offset = restored.epoch
      if (where !== 'snapshot') {
        for (const update of restored.updates) {
          if (Buffer.from(update).toString() === '"poison"') break
        }
        offset = restored.updates.entryOffset
      }
      restored.updates.close()
      const poisoned = where === 'snapshot' ? '{"items":["a"]}' : '"poison"'
      const reopen = StateStore.open<Items, unknown>({
        ...options(path),
        deserialize: (bytes) => {
          const text = Buffer.from(bytes).toString()
          if (where !== 'apply' && text === poisoned) throw new SyntaxError('cannot decode')
          return JSON.parse(text) as unknown
        },
        apply: (state, update) => {
          if (update === 'poison') throw new Error('cannot apply')
          state.items.push(update)
          return state
        },
      })
      await assert.rejects(reopen, (error: unknown) => {
        return isAofkitError(error, 'ERR_STATE_ENTRY_REJECTED') && (error as unknown as { offset: number }).offset === offset && error.message.includes(`offset ${offset}`)
      }, where)
    }
  })
})

describe('StateStore in an AppendOnlyFile', () => {
  it('keeps accepting updates past its sizeUpper by snapshotting and compacting', async (t) => {
    const path = join(tmpDir(t), 'store.aof')
    const geometry = { sizeNow: 64 * 1024, sizeUpper: 256 * 1024 }
    const open = (): Promise<StateStore<{ count: number; last: string }, string>> =>
      StateStore.open<{ count: number; last: string }, string>({
        path,
        initial: { count: 0, last: '' },
        apply: (state, update) => ({ count: state.count + 1, last: update }),
        appendOnlyFile: { geometry },
      })
    const store = await open()
    const pad = 'x'.repeat(200)
    for (let k = 0; k < 3000; k++) await store.update(`${k}:${pad}`)
    assert.equal(store.state.count, 3000)
    await store.close()
    assert.ok(statSync(path).size <= geometry.sizeUpper)
    const reopened = await open()
    assert.equal(reopened.state.count, 3000)
    assert.equal(reopened.state.last, `2999:${pad}`)
    await reopened.close()
  })
})
