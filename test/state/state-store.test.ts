// StateStore: restores T by replaying updates through apply, logs applied updates, snapshots
// every N, takes any serializer, logs nothing when apply throws, and reopens after a torn tail.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { restore } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

interface Account {
  balance: number
  history: number[]
}

const apply = (state: Account, amount: number): Account => {
  if (state.balance + amount < 0) throw new Error('overdrawn')
  return { balance: state.balance + amount, history: [...state.history, amount] }
}

describe('StateStore', () => {
  it('restores the state by replaying updates, snapshotting every N', async (t) => {
    const path = join(tmpDir(t), 'account.log')
    const store = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply, snapshotEvery: 4 })
    for (let i = 1; i <= 10; i++) await store.update(i)
    assert.equal(store.state.balance, 55)
    await store.close()
    const restored = restore(path)
    assert.deepEqual(JSON.parse(Buffer.from(restored.state as Uint8Array).toString()), {
      balance: 36,
      history: [1, 2, 3, 4, 5, 6, 7, 8],
    })
    assert.deepEqual([...restored.updates].map((u) => JSON.parse(Buffer.from(u).toString()) as number), [9, 10])
    const again = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply, snapshotEvery: 4 })
    assert.equal(again.replayed, 2)
    assert.deepEqual(again.state, { balance: 55, history: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] })
    await again.close()
  })

  it('logs nothing when apply throws', async (t) => {
    const path = join(tmpDir(t), 'refused.log')
    const store = await StateStore.open<Account, number>({ path, initial: () => ({ balance: 0, history: [] }), apply })
    await store.update(5)
    await assert.rejects(store.update(-10), /overdrawn/)
    await store.update(-5)
    await store.close()
    const again = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply })
    assert.deepEqual(again.state, { balance: 0, history: [5, -5] })
    await again.close()
  })

  it('takes any serializer', async (t) => {
    const path = join(tmpDir(t), 'counter.log')
    const serialize = (value: bigint): Uint8Array => {
      const bytes = new Uint8Array(8)
      new DataView(bytes.buffer).setBigInt64(0, value, true)
      return bytes
    }
    const deserialize = (bytes: Uint8Array): bigint => new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true)
    const options = { path, initial: 0n, apply: (s: bigint, u: bigint) => s + u, serialize, deserialize, snapshotEvery: 3 }
    const store = await StateStore.open<bigint, bigint>(options)
    for (let i = 0; i < 7; i++) await store.update(BigInt(i) << 40n)
    await store.snapshot()
    await store.update(1n)
    await store.close()
    const again = await StateStore.open<bigint, bigint>(options)
    assert.equal(again.state, (21n << 40n) + 1n)
    assert.equal(again.replayed, 1)
    await again.close()
  })

  it('reopens after a torn last update and reports the cut', async (t) => {
    const path = join(tmpDir(t), 'torn.log')
    const store = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply })
    for (let i = 1; i <= 5; i++) await store.update(i)
    await store.close()
    const bytes = readFileSync(path)
    writeFileSync(path, bytes.subarray(0, bytes.length - 3))
    const again = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply })
    assert.deepEqual(again.state, { balance: 10, history: [1, 2, 3, 4] })
    assert.ok(again.cut !== null && again.cut.size > 0)
    await again.close()
  })

  it('keeps its log in an AppendOnlyFile, compacts it there, and refuses updates once closed', async (t) => {
    const path = join(tmpDir(t), 'account.aof')
    const options = { path, initial: { balance: 0, history: [] }, apply, snapshotEvery: 3, appendOnlyFile: true }
    const store = await StateStore.open<Account, number>(options)
    for (let i = 1; i <= 10; i++) await store.update(i)
    assert.equal((await store.compact()).compacted, true)
    await store.update(11)
    await store.close()
    await assert.rejects(store.update(1), (e) => isAofkitError(e, 'ERR_AOF_CLOSED'))
    await assert.rejects(store.snapshot(), (e) => isAofkitError(e, 'ERR_AOF_CLOSED'))
    assert.equal(store.state.balance, 66, 'a refused update changes nothing')
    const again = await StateStore.open<Account, number>(options)
    assert.equal(again.state.balance, 66)
    assert.deepEqual(again.state.history, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    assert.equal(again.replayed, 2)
    await again.close()
  })

  it('fails where the reference fails with repair: false', async (t) => {
    const path = join(tmpDir(t), 'strict.log')
    const store = await StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply })
    await store.snapshot()
    await store.update(70_000)
    await store.update(5)
    await store.close()
    const bytes = readFileSync(path)
    writeFileSync(path, bytes.subarray(0, bytes.length - 3))
    // A torn update is returned by the reference's restore as ERR_LOG_CORRUPTED from the updates.
    await assert.rejects(StateStore.open<Account, number>({ path, initial: { balance: 0, history: [] }, apply, repair: false }), (e) =>
      isAofkitError(e, 'ERR_LOG_CORRUPTED'),
    )
    assert.equal(readFileSync(path).length, bytes.length - 3, 'nothing was cut')
  })

  it('refuses bad options', async (t) => {
    const path = join(tmpDir(t), 'bad.log')
    await assert.rejects(StateStore.open({ path, initial: 0, apply: (s: number) => s, snapshotEvery: -1 }), (e) =>
      isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'),
    )
    await assert.rejects(StateStore.open({ path, initial: 0, apply: 3 as never }), (e) => isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'))
    await assert.rejects(StateStore.open({ path: '', initial: 0, apply: (s: number) => s }), (e) =>
      isAofkitError(e, 'ERR_AOF_INVALID_ARGUMENT'),
    )
  })
})
