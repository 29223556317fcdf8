/**
 * A record log's torn tail: found where a writer left half an entry, refused where cutting
 * would lose entries, and cut under the writer's lock.
 */
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { lockExclusive } from '../../src/io/lock.ts'
import { HEADER_SIZE } from '../../src/log/format.ts'
import { LogReader } from '../../src/log/log-reader.ts'
import { LogWriter } from '../../src/log/log-writer.ts'
import { MemorySink } from '../../src/log/sinks.ts'
import { MemorySource } from '../../src/log/sources.ts'
import { cutTornTail, findTornTail, lastWholeEntryEnd } from '../../src/log/torn-tail.ts'
import { EntryType, encodeStateEntry } from '../../src/state/entry.ts'
import { StateWriter } from '../../src/state/state-writer.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

function log(sizes: number[]): { bytes: Uint8Array; ends: number[] } {
  const sink = new MemorySink()
  const writer = new LogWriter(sink)
  const ends = sizes.map((size, index) => {
    writer.append(new Uint8Array(size).fill(index + 1))
    return writer.position
  })
  return { bytes: sink.bytes().slice(), ends }
}

test('a log cut anywhere inside its last entry has a torn tail from that entry on', () => {
  const { bytes, ends } = log([100, 40_000, 3000, 70_000])
  const lastStart = ends[2] as number
  for (const size of [lastStart + 1, lastStart + 15, lastStart + 16, 70_000, 100_000, bytes.length - 1]) {
    const tail = findTornTail(new MemorySource(bytes.subarray(0, size)))
    assert.deepEqual(tail.kind === 'torn' ? [tail.tail.offset, tail.tail.end] : tail, [lastStart, size], `cut at ${size}`)
  }
  assert.deepEqual(findTornTail(new MemorySource(bytes)), { kind: 'whole' })
  for (const end of ends) assert.deepEqual(findTornTail(new MemorySource(bytes.subarray(0, end))), { kind: 'whole' })
})

test('damage before the end, or a complete entry after the damage, is not a torn tail', () => {
  const { bytes, ends } = log([100, 200, 300, 400])
  const early = bytes.slice()
  early[20] = (early[20] as number) ^ 0xff
  assert.equal(findTornTail(new MemorySource(early)).kind, 'damaged')
  // The last block holds all four entries: damage in the third leaves the fourth inside the
  // range the reader's resync skips.
  const third = bytes.slice()
  const at = (ends[1] as number) + 20
  third[at] = (third[at] as number) ^ 0xff
  const tail = findTornTail(new MemorySource(third))
  assert.ok(tail.kind === 'damaged' && tail.entryAfter, JSON.stringify(tail))
  assert.equal(lastWholeEntryEnd(new MemorySource(third)), ends[1])
  assert.equal(lastWholeEntryEnd(new MemorySource(new Uint8Array(100))), null)
})

test('cutTornTail cuts under the lock, and refuses while a writer holds it', (t) => {
  const { bytes, ends } = log([100, 40_000, 3000])
  const path = join(tmpDir(t), 'torn.log')
  writeFileSync(path, bytes.subarray(0, (ends[1] as number) + 50))
  const tail = findTornTail(new MemorySource(readFileSync(path)))
  assert.ok(tail.kind === 'torn')
  const holder = openSync(path, 'r')
  lockExclusive(holder, path)
  assert.throws(() => cutTornTail(path, tail.tail), (error: unknown) => isAofkitError(error, 'ERR_AOF_LOCKED'))
  assert.equal(readFileSync(path).length, (ends[1] as number) + 50)
  closeSync(holder)
  assert.equal(cutTornTail(path, tail.tail), 50)
  const reader = new LogReader(new MemorySource(readFileSync(path)))
  let count = 0
  while (reader.read() !== null) count++
  assert.equal(count, 2)
})

test('a tail a torn write cannot leave is damage, not a torn tail: one rule with the state log, which refuses the same bytes on open', async (t) => {
  const dir = tmpDir(t)
  // A state log: a snapshot, then two updates of its epoch (0), so that both layers read it.
  const sink = new MemorySink()
  const writer = new LogWriter(sink)
  const ends = [100, 200, 300].map((size, index) => {
    writer.append(encodeStateEntry(index === 0 ? EntryType.Snapshot : EntryType.Update, 0, new Uint8Array(size).fill(index + 1)))
    return writer.position
  })
  const bytes = sink.bytes().slice()
  const lastStart = ends[1] as number
  const cases: Array<{ name: string; bytes: Uint8Array; why: RegExp }> = []
  // A flipped bit in the payload of the complete last entry: its record fails its checksum, so
  // no whole entry is found after the damage, yet a torn write leaves complete records intact.
  for (const at of [lastStart + HEADER_SIZE, lastStart + HEADER_SIZE + 150, (ends[2] as number) - 1]) {
    const flipped = bytes.slice()
    flipped[at] = (flipped[at] as number) ^ 0x01
    cases.push({ name: `a bit flipped at ${at} in the last entry`, bytes: flipped, why: /fails its checksum/ })
  }
  // Bytes that are no record at all after the last entry.
  cases.push({ name: 'junk after the last entry', bytes: Buffer.concat([bytes, Buffer.from('not a record, not zeros')]), why: /record of type|length|offset field/ })
  for (const { name, bytes: damaged, why } of cases) {
    const tail = findTornTail(new MemorySource(damaged))
    assert.ok(tail.kind === 'damaged' && !tail.entryAfter && tail.notTorn !== undefined, `${name}: ${JSON.stringify(tail)}`)
    assert.match(tail.notTorn, why, name)
    // The state log's open judges the same bytes by the same rule.
    const path = join(dir, `${name.replaceAll(' ', '-')}.state`)
    writeFileSync(path, damaged)
    await assert.rejects(StateWriter.open(path), (error: unknown) => isAofkitError(error, 'ERR_LOG_CORRUPTED'), name)
    assert.equal(readFileSync(path).length, damaged.length, `${name}: the state log was cut`)
  }
  // What a torn write does leave is still a torn tail, for both.
  const torn = bytes.subarray(0, lastStart + 50)
  const tail = findTornTail(new MemorySource(torn))
  assert.deepEqual(tail.kind === 'torn' ? tail.tail.offset : tail, lastStart)
})
