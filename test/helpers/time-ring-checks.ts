/**
 * The checks of the time ring's adversarial tests: writers in processes of their own
 * (`time-ring-writer.ts`) that print the clock readings around each append, and the checks that
 * every entry's time lies between them, never decreases, and is found by `from: { time }`.
 * @module
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Worker } from 'node:worker_threads'

import { Journal } from '../../src/index.ts'
import { spawnHelper } from './child.ts'
import type { Child } from './child.ts'
import { isJournalEntry } from './journal-entries.ts'

export interface Timed {
  position: number
  time: number
}

export type Bounds = Map<number, [number, number]>

/** The clock readings around each append, from a writer's `E<position>,<before>,<after>;`. */
export function boundsIn(stdout: string): Bounds {
  const bounds: Bounds = new Map()
  for (const match of stdout.matchAll(/E(\d+),(\d+),(\d+);/g)) bounds.set(Number(match[1]), [Number(match[2]), Number(match[3])])
  return bounds
}

/** The clock readings around each append of the writers `children`. */
export function boundsOf(...children: Child[]): Bounds {
  return new Map(children.flatMap((child) => [...boundsIn(child.stdout())]))
}

/** Each entry's time lies within its append's clock readings and never decreases. */
export function checkTimes(entries: readonly Timed[], bounds: Bounds, what: string): void {
  let last = -1
  for (const { position, time } of entries) {
    const bound = bounds.get(position)
    assert.ok(bound !== undefined, `${what}: entry ${position} was not acknowledged`)
    assert.ok(time >= bound[0] && time <= bound[1], `${what}: entry ${position} has time ${time}, appended within [${bound[0]}, ${bound[1]}]`)
    assert.ok(time >= last, `${what}: entry ${position}'s time ${time} is before the previous entry's ${last}`)
    last = time
  }
}

/** Where times were lost: no entry gets a time after its append, and times never decrease. */
export function checkNoLaterTimes(entries: readonly Timed[], bounds: Bounds, what: string): void {
  let last = -1
  for (const { position, time } of entries) {
    const bound = bounds.get(position)
    assert.ok(bound !== undefined, `${what}: entry ${position} was not acknowledged`)
    assert.ok(time <= bound[1], `${what}: entry ${position} has time ${time}, later than its append (by ${bound[1]})`)
    assert.ok(time >= last, `${what}: entry ${position}'s time ${time} is before the previous entry's ${last}`)
    last = time
  }
}

/** The entries of `dir` as a reader opened now reads them, their bytes checked. */
export async function readAll(dir: string): Promise<Timed[]> {
  const reader = await Journal.openReader(dir)
  try {
    return [...reader.read()].map((entry) => {
      assert.ok(isJournalEntry(entry.position, entry.data), `entry ${entry.position}'s bytes`)
      return { position: entry.position, time: entry.time }
    })
  } finally {
    reader.close()
  }
}

/** `from: { time }` at each entry's time starts at that entry (each has a millisecond of its own). */
export async function checkSeeks(dir: string, entries: readonly Timed[], what: string): Promise<void> {
  const reader = await Journal.openReader(dir)
  try {
    for (const { position, time } of entries) {
      assert.equal(reader.read({ from: { time } }).next().value?.position, position, `${what}: from { time: ${time} }`)
    }
  } finally {
    reader.close()
  }
}

/** A {@link writer} that has appended its entries (`D;`), killed when the test ends. */
export async function writerDone(t: TestContext, dir: string, count: number, options: object = {}): Promise<Child> {
  const child = writer(dir, count, options)
  t.after(() => killed(child))
  await child.waitFor('D;')
  return child
}

/** Kills `child` (SIGKILL) unless it ended, and waits for its end. */
export async function killed(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL')
  await child.exited
}

/** A writer in a process of its own (`time-ring-writer.ts`), its stdin a pipe with `resume`. */
export function writer(dir: string, count: number, options: object = {}): Child {
  return spawnHelper('time-ring-writer.ts', [dir, String(count), JSON.stringify(options)], { stdin: 'resume' in options })
}

/** The next `count` entries of a `read()` iterator, with their positions and times. */
export function take(entries: Iterator<{ position: number; time: number }>, count: number): Timed[] {
  const taken: Timed[] = []
  for (let k = 0; k < count; k++) {
    const result = entries.next()
    assert.ok(result.done !== true, `entry ${k} of ${count}`)
    taken.push({ position: result.value.position, time: result.value.time })
  }
  return taken
}

/**
 * Readers of `dir` in worker threads (`time-ring-reader-worker.ts`), one per seed, stopped when
 * the test ends: for each, the [position, time] of the `count` entries it read.
 */
export function readersInWorkers(t: TestContext, dir: string, count: number, seeds: readonly number[]): Array<Promise<Array<[number, number]>>> {
  const workers = seeds.map(
    (seed) =>
      new Worker(new URL('./worker-entry.mjs', import.meta.url), {
        workerData: { script: new URL('./time-ring-reader-worker.ts', import.meta.url).href, dir, count, seed },
      }),
  )
  t.after(() => Promise.all(workers.map((worker) => worker.terminate())))
  return workers.map(
    (worker) =>
      new Promise<Array<[number, number]>>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      }),
  )
}
