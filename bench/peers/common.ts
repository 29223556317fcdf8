/**
 * What every peer of bench/peers.bench.ts shares: the records, the shape of a timed trial, and
 * the group commit that peers without one of their own get by hand.
 * @module
 */
import { fdatasync } from 'node:fs'

/** Every subject appends the same records of this many bytes. */
export const RECORD_SIZE = 100
/** Records per batch: one fsync, one transaction or one `batch()` per this many. */
export const BATCH = 1000
/** Concurrent writers in the group-commit scenario. */
export const WRITERS = 256

const DISTINCT = 4096
const pool = new Uint8Array(RECORD_SIZE + DISTINCT)
for (let i = 0; i < pool.length; i++) pool[i] = (i * 2654435761) >>> 24
const records: Buffer[] = Array.from({ length: DISTINCT }, (_, i) => Buffer.from(pool.buffer, i, RECORD_SIZE))

/** The `index`-th record: 100 bytes, one of 4096 distinct ones (made once, not per call). */
export function record(index: number): Buffer {
  return records[index & (DISTINCT - 1)]!
}

/** What one peer is measured doing. */
export type Scenario = 'append' | 'durable' | 'group' | 'read'

/** One timed run: `run()` is timed; what `make` did before it and `close()` after are not. */
export interface Trial {
  run(): Promise<void> | void
  close(): Promise<void> | void
}

/** Prepares a trial of `count` records in the empty directory `dir` (for `read`: writes them). */
export type MakeTrial = (dir: string, count: number) => Promise<Trial> | Trial

/** A row of the comparison. */
export interface Peer {
  name: string
  /** A short name for the chart. */
  label: string
  /** One of aofkit's own rows (the others' ratios are to these). */
  aofkit?: boolean
  trials: Partial<Record<Scenario, MakeTrial>>
  /** What a full read checks, or why the peer has none. */
  readChecks?: string
  /** Why a scenario is left out, or what its figure means for this peer. */
  notes?: Partial<Record<Scenario | 'latency', string>>
}

/** Gives the event loop one turn. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Group commit by hand, for peers that have none: callers that ask for durability while a
 * commit runs share the next one, which covers everything written before it starts (the same
 * rule as aofkit's `sync()`).
 */
export class SharedCommit {
  readonly #commit: () => Promise<void>
  #running: Promise<void> | null = null
  #queued: Promise<void> | null = null

  constructor(commit: () => Promise<void>) {
    this.#commit = commit
  }

  /** Resolves once a commit that started after this call has finished. */
  sync(): Promise<void> {
    if (this.#running === null) return this.#start()
    this.#queued ??= this.#running.then(
      () => this.#start(),
      () => this.#start(),
    )
    return this.#queued
  }

  #start(): Promise<void> {
    this.#queued = null
    const running = this.#commit().finally(() => {
      if (this.#running === running && this.#queued === null) this.#running = null
    })
    this.#running = running
    return running
  }
}

/** `fdatasync` on the libuv pool, as a promise. */
export function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error === null ? resolve() : reject(error))))
}

/** Runs `count` records through `WRITERS` concurrent async writers; each awaits `one(i)`. */
export async function concurrently(count: number, one: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const writer = async (): Promise<void> => {
    while (next < count) await one(next++)
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
}

/** Runs `fn(start, end)` over `count` records in batches of `BATCH`. */
export async function inBatches(count: number, fn: (start: number, end: number) => Promise<void> | void): Promise<void> {
  for (let start = 0; start < count; start += BATCH) await fn(start, Math.min(count, start + BATCH))
}

/** Throws unless a read found every record. */
export function expectCount(what: string, found: number, count: number): void {
  if (found !== count) throw new Error(`${what}: read ${found} records, expected ${count}`)
}
