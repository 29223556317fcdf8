/**
 * hypercore (v11): a signed append-only log (a Merkle tree over the blocks), stored in
 * RocksDB. `append()` of 1,000 blocks at a time; read back with `createReadStream()`.
 * @module
 */
import { join } from 'node:path'

import { comparedPackage } from '../harness.ts'
import { expectCount, inBatches, record, type MakeTrial, type Peer } from './common.ts'

interface Hypercore {
  ready(): Promise<void>
  append(blocks: Uint8Array[]): Promise<unknown>
  createReadStream(): AsyncIterable<Uint8Array>
  close(): Promise<void>
}
type HypercoreClass = new (path: string) => Hypercore

export async function hypercorePeers(): Promise<Peer[]> {
  const module = await comparedPackage<{ default: HypercoreClass }>('hypercore')
  if (module === null) return []
  const open = async (dir: string): Promise<Hypercore> => {
    const core = new module.default(join(dir, 'core'))
    await core.ready()
    return core
  }
  const write = (core: Hypercore, count: number): Promise<void> =>
    inBatches(count, async (start, end) => {
      const blocks = []
      for (let i = start; i < end; i++) blocks.push(record(i))
      await core.append(blocks)
    })
  const append: MakeTrial = async (dir, count) => {
    const core = await open(dir)
    return { run: () => write(core, count), close: () => core.close() }
  }
  const read: MakeTrial = async (dir, count) => {
    const core = await open(dir)
    await write(core, count)
    return {
      run: async () => {
        let found = 0
        for await (const block of core.createReadStream()) if (block.length === 100) found++
        expectCount('hypercore', found, count)
      },
      close: () => core.close(),
    }
  }
  const cannotSync = 'cannot: no way to fsync an append (its RocksDB writes are not synced)'
  return [
    {
      name: 'hypercore',
      label: 'hypercore',
      trials: { append, read },
      readChecks: 'none for local blocks (the signed Merkle tree is checked when blocks arrive by replication)',
      notes: {
        append: '`append()` of 1,000 blocks: hashes and signs each append',
        durable: cannotSync,
        group: cannotSync,
        latency: 'not measured: another process follows it only by replication over a stream',
      },
    },
  ]
}
