// The reconciliation of recovery with the `-shm` sidecar (src/aof/reconcile.ts), tested as the
// pure function it is: byte images of data files as a writer leaves them (and as other files
// put at their path look), sidecar pages as a killed writer leaves them, and the decision.
// docs/FORMAT.md ("Recovery", "When the sidecar counts") states the rule checked here.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import fc from 'fast-check'

import { DEFAULT_MAGIC, FileState, RecoveryKind, recoverWithMagic } from '../../src/index.ts'
import type { RecoveryResult } from '../../src/index.ts'
import { judgeSidecar, reconcile } from '../../src/aof/reconcile.ts'
import type { ReconcileInput, Reconciliation } from '../../src/aof/reconcile.ts'
import { HEAD_SIZE, NOT_SYNCED } from '../../src/aof/shm.ts'
import { syncCheck } from '../../src/aof/sync-check.ts'
import type { SidecarSnapshot } from '../../src/aof/shm.ts'
import type { FileIdentity } from '../../src/aof/sidecar-identity.ts'
import { CHECKPOINT_BYTES, TAIL_BYTES, concat, liveImage, roundUp, streamOf } from '../helpers/aof-model.ts'
import type { Op } from '../helpers/aof-model.ts'

const PAGE = 64
const IDENTITY: FileIdentity = { device: 2049, inode: 1234, birthSeconds: 1_700_000_000, birthNanoseconds: 5, mountId: 77 }

function noise(length: number, salt: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => ((i * 73 + salt * 151 + 17) % 255) + 1)
}

const write = (bytes: Uint8Array): Op => ({ kind: 'write', bytes })
const checkpoint: Op = { kind: 'checkpoint' }

/** The page a writer of `data` (committed) leaves when killed, in a file of `allocated` bytes. */
function pageOf(data: Uint8Array, allocated: number, overrides: Partial<SidecarSnapshot> = {}): SidecarSnapshot {
  return {
    writerPid: 4321,
    fileState: FileState.Opened,
    committedSize: data.length,
    lastCheckpoint: -1,
    allocatedSize: allocated,
    inode: IDENTITY.inode,
    device: IDENTITY.device,
    birthSeconds: IDENTITY.birthSeconds,
    birthNanoseconds: IDENTITY.birthNanoseconds,
    head: data.slice(0, HEAD_SIZE),
    sameBoot: true,
    mountId: IDENTITY.mountId,
    synced: NOT_SYNCED,
    ...overrides,
  }
}

interface Case {
  bytes: Uint8Array
  sidecar?: SidecarSnapshot | null
  readOnly?: boolean
  repair?: boolean
  result?: RecoveryResult
  identity?: FileIdentity
}

function decide(c: Case): Reconciliation {
  const before = Uint8Array.from(c.bytes)
  const input: ReconcileInput = {
    bytes: c.bytes,
    fileSize: c.bytes.length,
    magic: DEFAULT_MAGIC,
    result: c.result ?? recoverWithMagic(c.bytes.length, c.bytes),
    sidecar: c.sidecar ?? null,
    identity: c.identity ?? IDENTITY,
    readOnly: c.readOnly === true,
    repair: c.repair === true,
  }
  const decided = reconcile(input)
  assert.deepEqual(c.bytes, before, 'reconcile modified the bytes')
  return decided
}

/** A killed writer's image: `done` returned, then `inFlight` of which `landed` bytes were copied. */
function killedImage(done: Op[], inFlight: Uint8Array, landed: number, tail: 0 | 1 | 2 = 0): { image: Uint8Array; page: SidecarSnapshot; committed: Uint8Array } {
  const committed = streamOf(done).data
  const end = committed.length + inFlight.length
  const image = new Uint8Array(roundUp(end + 8, PAGE))
  image.set(committed)
  if (done.length > 0) image.set(TAIL_BYTES, committed.length)
  image.set(inFlight.subarray(0, landed), committed.length)
  if (tail >= 1) image.set(TAIL_BYTES.subarray(0, 4), end)
  if (tail === 2) image.set(TAIL_BYTES.subarray(4), end + 4)
  const lastCheckpoint = streamOf(done).checkpoints.at(-1) ?? -1
  return { image, page: pageOf(committed, image.length, { lastCheckpoint }), committed }
}

describe('reconcile: without a sidecar, the magic numbers decide', () => {
  it('opens an empty file, a live file at its MagicTail and a finished file in EOF', () => {
    assert.deepEqual(decide({ bytes: new Uint8Array(PAGE) }), {
      corrupted: false,
      size: 0,
      state: FileState.Opened,
      lastCheckpoint: -1,
      source: 'magic',
      sidecar: 'absent',
      cutEnd: null,
      cutBytes: 0,
      synced: NOT_SYNCED,
    })
    const { image, stream } = liveImage([write(noise(10, 1)), checkpoint, write(noise(5, 2))], PAGE)
    const live = decide({ bytes: image })
    assert.deepEqual([live.size, live.state, live.source, live.cutEnd], [stream.data.length, FileState.Opened, 'magic', null])
    const finished = concat([stream.data, CHECKPOINT_BYTES])
    const eof = decide({ bytes: finished })
    assert.deepEqual([eof.size, eof.state, eof.lastCheckpoint], [stream.data.length, FileState.EOF, stream.data.length])
  })

  it('refuses a corrupted tail; repair cuts it back to the last checkpoint; read-only reads up to it', () => {
    const good = concat([noise(4, 3), CHECKPOINT_BYTES])
    const bytes = new Uint8Array(PAGE)
    bytes.set(concat([good, noise(6, 4)]))
    const refused = decide({ bytes })
    assert.equal(refused.corrupted, true)
    const repaired = decide({ bytes, repair: true })
    assert.deepEqual(
      [repaired.corrupted, repaired.size, repaired.source, repaired.cutEnd, repaired.cutBytes, repaired.lastCheckpoint],
      [false, 12, 'repair', 18, 6, 4],
    )
    const readOnly = decide({ bytes, readOnly: true })
    assert.deepEqual([readOnly.corrupted, readOnly.size, readOnly.state, readOnly.cutEnd], [false, 12, FileState.EOF, null])
  })

  it('refuses a recovery that panicked, even with a sidecar that would decide', () => {
    const { image, page } = killedImage([write(noise(20, 5))], noise(30, 6), 10)
    const panic: RecoveryResult = { magic: DEFAULT_MAGIC, outcome: RecoveryKind.Panic, fileSize: image.length, checkpoint: -1, tail: 0, error: new Error('x') }
    assert.equal(decide({ bytes: image, sidecar: page, result: panic }).corrupted, true)
    assert.equal(decide({ bytes: image, sidecar: page, result: panic, readOnly: true }).corrupted, true)
  })
})

describe('reconcile: the sidecar of a writer killed mid-operation decides', () => {
  const X = noise(40, 7)
  const zeroLed = concat([new Uint8Array(16), noise(16, 8)])
  const cases: Array<{ name: string; done: Op[]; inFlight: Uint8Array; landed: number; tail?: 0 | 1 | 2; outcome: RecoveryKind }> = [
    { name: 'a copy torn half way (Corrupted)', done: [write(X)], inFlight: noise(64, 9), landed: 30, outcome: RecoveryKind.Corrupted },
    { name: 'a complete write whose size was not published (Tail past it)', done: [write(X)], inFlight: noise(24, 10), landed: 24, tail: 2, outcome: RecoveryKind.Tail },
    { name: 'a checkpoint() whose MagicTail did not land (Checkpoint, not finished)', done: [write(X)], inFlight: CHECKPOINT_BYTES, landed: 8, outcome: RecoveryKind.Checkpoint },
    { name: 'a zero-led copy after a checkpoint() (an earlier Checkpoint)', done: [write(X), checkpoint], inFlight: zeroLed, landed: 8, outcome: RecoveryKind.Checkpoint },
    { name: 'a zero-led copy after records of zeros (Empty)', done: [write(new Uint8Array(100))], inFlight: zeroLed, landed: 8, outcome: RecoveryKind.Empty },
    { name: 'a copy torn after a MagicTail inside the record (Tail past it)', done: [write(X)], inFlight: concat([noise(8, 11), TAIL_BYTES, noise(20, 12)]), landed: 16, outcome: RecoveryKind.Tail },
    { name: 'a copy torn after a MagicCheckpoint inside the record', done: [write(X)], inFlight: concat([noise(8, 13), CHECKPOINT_BYTES, noise(20, 14)]), landed: 16, outcome: RecoveryKind.Checkpoint },
  ]
  for (const c of cases) {
    it(`cuts back to the committed size: ${c.name}`, () => {
      const { image, page, committed } = killedImage(c.done, c.inFlight, c.landed, c.tail)
      const decided = decide({ bytes: image, sidecar: page })
      assert.equal(recoverWithMagic(image.length, image).outcome, c.outcome, 'the scenario is what its name says')
      assert.equal(decided.sidecar, 'trusted')
      assert.deepEqual([decided.size, decided.source, decided.state], [committed.length, 'sidecar', FileState.Opened])
      assert.ok(decided.cutEnd !== null && decided.cutEnd >= committed.length)
      // Read-only: the same size, nothing to write, EOF.
      const readOnly = decide({ bytes: image, sidecar: page, readOnly: true })
      assert.deepEqual([readOnly.size, readOnly.source, readOnly.state, readOnly.cutEnd], [committed.length, 'sidecar', FileState.EOF, null])
    })
  }

  it('leaves a file alone whose MagicTail sits at exactly the committed size', () => {
    const { image, stream } = liveImage([write(X)], PAGE)
    const decided = decide({ bytes: image, sidecar: pageOf(stream.data, image.length) })
    assert.deepEqual([decided.size, decided.source, decided.cutEnd, decided.sidecar], [40, 'magic', null, 'trusted'])
  })

  it('takes the last checkpoint from the sidecar, verified against the bytes and within the data', () => {
    const { image, page } = killedImage([write(X), checkpoint, write(noise(9, 15))], noise(20, 16), 7)
    assert.equal(decide({ bytes: image, sidecar: page }).lastCheckpoint, 40)
    assert.equal(decide({ bytes: image, sidecar: { ...page, lastCheckpoint: 41 } }).lastCheckpoint, -1)
    assert.equal(decide({ bytes: image, sidecar: { ...page, lastCheckpoint: 52 } }).lastCheckpoint, -1)
  })

  it('cuts a torn first write back to empty (the sidecar holds no bytes yet)', () => {
    const { image, page } = killedImage([], noise(50, 17), 20)
    const decided = decide({ bytes: image, sidecar: page })
    assert.deepEqual([decided.size, decided.source, decided.cutBytes], [0, 'sidecar', 20])
  })

  it('reopens a checkpoint() in flight on an empty file as open, not finished', () => {
    const { image, page } = killedImage([], CHECKPOINT_BYTES, 8)
    const decided = decide({ bytes: image, sidecar: page })
    assert.deepEqual([decided.size, decided.state, decided.source], [0, FileState.Opened, 'sidecar'])
  })
})

describe('reconcile: a sidecar that does not belong to this file, or cannot be trusted, decides nothing', () => {
  const dead = killedImage([write(noise(40, 20))], noise(30, 21), 12)
  /** A healthy file of another stream, the same length as the dead writer's. */
  const other = liveImage([write(noise(100, 22)), checkpoint, write(noise(30, 23))], PAGE)
  const otherImage = concat([other.image, new Uint8Array(Math.max(0, dead.image.length - other.image.length))])

  it('another file copied over it (same inode): its first bytes differ', () => {
    const decided = decide({ bytes: otherImage, sidecar: dead.page })
    assert.deepEqual([decided.sidecar, decided.source, decided.size, decided.cutEnd], ['other-file', 'magic', other.stream.data.length, null])
  })

  it('another file in its place (rm, then cp): another inode or birth time; or, without a birth time, another device', () => {
    const copyOfDead = dead.image
    const unborn = { birthSeconds: 0, birthNanoseconds: 0 }
    for (const [identity, page] of [
      [{ ...IDENTITY, inode: IDENTITY.inode + 1 }, dead.page],
      [{ ...IDENTITY, birthSeconds: IDENTITY.birthSeconds + 1 }, dead.page],
      [{ ...IDENTITY, birthNanoseconds: 6 }, dead.page],
      // A file system that keeps no birth time: an inode number on another device is anyone's.
      [{ ...IDENTITY, ...unborn, device: IDENTITY.device + 1 }, { ...dead.page, ...unborn }],
      [{ ...IDENTITY, ...unborn, device: IDENTITY.device + 1, mountId: IDENTITY.mountId + 1 }, { ...dead.page, ...unborn }],
    ] as const) {
      const decided = decide({ bytes: copyOfDead, sidecar: page, identity })
      assert.equal(decided.sidecar, 'other-file')
      assert.equal(decided.corrupted, true, 'a torn copy of another file is refused, not cut by a stranger sidecar')
    }
  })

  it('a shorter file than the writer had allocated', () => {
    const short = dead.image.slice(0, PAGE)
    const decided = decide({ bytes: short, sidecar: dead.page, repair: true })
    assert.equal(decided.sidecar, 'other-file')
  })

  it('a longer, healthy file that begins with the same bytes is still cut only when magic fails', () => {
    // Same first bytes, longer and clean: the head vouches for the sidecar, so its size decides
    // (a record holding a MagicTail looks like this). This is the residual ambiguity the
    // format documents; a file that begins differently is never cut.
    const sameHead = liveImage([write(concat([noise(40, 20), noise(60, 24)]))], PAGE)
    const image = concat([sameHead.image, new Uint8Array(Math.max(0, dead.image.length - sameHead.image.length))])
    assert.equal(decide({ bytes: image, sidecar: dead.page }).source, 'sidecar')
  })

  it('a healthy file put over a writer that died before its first write returned', () => {
    const empty = killedImage([], noise(10, 25), 0)
    const longFinished = concat([noise(200, 26), CHECKPOINT_BYTES])
    assert.ok(longFinished.length >= empty.image.length)
    for (const image of [otherImage, longFinished]) {
      const decided = decide({ bytes: image, sidecar: empty.page })
      assert.equal(decided.source, 'magic', 'a clean file is not cut on identity alone')
      assert.equal(decided.corrupted, false)
    }
  })

  it('a finished file put over it', () => {
    const finished = concat([other.stream.data, CHECKPOINT_BYTES, new Uint8Array(0)])
    const decided = decide({ bytes: finished, sidecar: dead.page })
    assert.deepEqual([decided.source, decided.state, decided.size], ['magic', FileState.EOF, other.stream.data.length])
  })

  it('a page its writer closed, or from an earlier boot', () => {
    const closed = decide({ bytes: dead.image, sidecar: { ...dead.page, fileState: FileState.Closed }, repair: true })
    assert.deepEqual([closed.sidecar, closed.source], ['closed', 'repair'])
    const rebooted = decide({ bytes: dead.image, sidecar: { ...dead.page, sameBoot: false } })
    assert.deepEqual([rebooted.sidecar, rebooted.corrupted], ['earlier-boot', true])
  })

  it('a committed size that is fractional, negative, not a number or past the allocation', () => {
    for (const committedSize of [12.5, -8, -0.5, Number.NaN, Number.POSITIVE_INFINITY, dead.image.length - 7, 2 ** 53]) {
      const decided = decide({ bytes: dead.image, sidecar: { ...dead.page, committedSize } })
      assert.equal(decided.sidecar, 'invalid', `committedSize ${committedSize}`)
      assert.equal(decided.corrupted, true)
    }
    const decided = decide({ bytes: dead.image, sidecar: { ...dead.page, allocatedSize: 100.5 } })
    assert.equal(decided.sidecar, 'other-file')
  })

  it('a page whose head is longer than the file, or says less than the committed size covers', () => {
    const tiny = new Uint8Array(8)
    assert.equal(judgeSidecar({ ...dead.page, allocatedSize: 8, committedSize: 0 }, IDENTITY, tiny, 8).trust, 'other-file')
    const judged = judgeSidecar({ ...dead.page, head: dead.page.head.slice(0, 3) }, IDENTITY, dead.image, dead.image.length)
    assert.deepEqual([judged.trust, judged.proven], ['trusted', false])
  })
})

describe('after a power cut: a page from an earlier boot or mount', () => {
  // The writer synced its first 40 bytes (the page says so, and was synced after them), then
  // wrote 30 more; only some of the later pages reached the disk.
  const synced = noise(40, 30)
  const later = noise(30, 31)
  const whole = liveImage([write(synced), write(later)], PAGE)
  const pageAfterSync = (overrides: Partial<SidecarSnapshot> = {}): SidecarSnapshot =>
    pageOf(concat([synced, later]), whole.image.length, { synced: { ...NOT_SYNCED, size: synced.length }, sameBoot: false, ...overrides })

  it('a later write over the synced MagicTail, the rest lost: the data ends at the last sync', () => {
    const image = Uint8Array.from(whole.image)
    image.fill(0, synced.length + 12) // the later write reached the disk only in part
    const decided = decide({ bytes: image, sidecar: pageAfterSync() })
    assert.deepEqual([decided.sidecar, decided.source, decided.size, decided.corrupted], ['earlier-boot', 'synced', synced.length, false])
    assert.equal(decided.cutBytes, 12)
    assert.deepEqual(decided.synced, { ...NOT_SYNCED, size: synced.length })
  })

  it('a whole-looking file past the last sync is cut back too: a page in between may be stale', () => {
    const decided = decide({ bytes: Uint8Array.from(whole.image), sidecar: pageAfterSync() })
    assert.deepEqual([decided.source, decided.size, decided.cutBytes], ['synced', synced.length, later.length + 8])
  })

  it('a MagicTail exactly at the synced size: nothing to cut', () => {
    const image = liveImage([write(synced)], PAGE).image
    const decided = decide({ bytes: concat([image, new Uint8Array(Math.max(0, whole.image.length - image.length))]), sidecar: pageAfterSync() })
    assert.deepEqual([decided.source, decided.size, decided.cutEnd], ['magic', synced.length, null])
  })

  it('the file system mounted again through another device: the same file, its sync record counts', () => {
    // A disk may come back under another device number (another loop or device-mapper device,
    // disks enumerated in another order at boot): inode, birth time and first bytes still name it.
    const image = Uint8Array.from(whole.image)
    image.fill(0, synced.length + 12)
    for (const page of [pageAfterSync({ device: IDENTITY.device + 1 }), pageAfterSync({ device: IDENTITY.device + 1, sameBoot: true, mountId: IDENTITY.mountId + 1 })]) {
      const decided = decide({ bytes: image, sidecar: page })
      assert.deepEqual([decided.sidecar, decided.source, decided.size, decided.corrupted], ['earlier-boot', 'synced', synced.length, false])
    }
    // A device cannot change under one mount: the same boot and mount id (reused by kernels
    // before 6.8) with another device is a file system mounted again too.
    const reused = decide({ bytes: image, sidecar: pageAfterSync({ device: IDENTITY.device + 1, sameBoot: true }) })
    assert.deepEqual([reused.sidecar, reused.source, reused.size], ['earlier-boot', 'synced', synced.length])
  })

  it('the same boot but another mount counts as a power cut; the same mount does not', () => {
    const image = Uint8Array.from(whole.image)
    image.fill(0, synced.length + 12)
    const remounted = decide({ bytes: image, sidecar: pageAfterSync({ sameBoot: true, mountId: IDENTITY.mountId + 1 }) })
    assert.deepEqual([remounted.sidecar, remounted.source, remounted.size], ['earlier-boot', 'synced', synced.length])
    const live = decide({ bytes: image, sidecar: pageAfterSync({ sameBoot: true }) })
    assert.equal(live.sidecar, 'trusted')
  })

  it('a file never synced, or a synced size that is not one, is left to its magic numbers', () => {
    for (const syncedSize of [0, 12.5, -8, Number.NaN, whole.image.length]) {
      const decided = decide({ bytes: Uint8Array.from(whole.image), sidecar: pageAfterSync({ synced: { ...NOT_SYNCED, size: syncedSize } }) })
      assert.deepEqual([decided.source, decided.size], ['magic', synced.length + later.length], `syncedSize ${syncedSize}`)
    }
  })
})

describe('after a power cut: a sync whose record was written before its data was flushed', () => {
  // The writer synced its first 40 bytes, then wrote 30 more and began a sync of all 70: its
  // record (size 70, from 40, the check of those 30 bytes) went to the page before the data's
  // flush, which may or may not have completed when the power went.
  const first = noise(40, 40)
  const second = noise(30, 41)
  const whole = liveImage([write(first), write(second)], PAGE)
  const all = first.length + second.length
  const record = { size: all, from: first.length, check: syncCheck(whole.image, first.length, all), checked: true }
  const page = (overrides: Partial<SidecarSnapshot> = {}): SidecarSnapshot =>
    pageOf(concat([first, second]), whole.image.length, { synced: record, sameBoot: false, ...overrides })

  it('the data it covers all on the disk: the file ends where the record says', () => {
    const decided = decide({ bytes: Uint8Array.from(whole.image), sidecar: page() })
    assert.deepEqual([decided.sidecar, decided.source, decided.size, decided.cutEnd], ['earlier-boot', 'magic', all, null])
    assert.deepEqual(decided.synced, { ...NOT_SYNCED, size: all })
  })

  it('any of it missing, or stale: the file ends where the sync before it ended', () => {
    for (const [from, to] of [
      [first.length, all],
      [first.length + 29, all],
      [first.length, first.length + 1],
      [all, all + 8], // its MagicTail: not covered by the check, so not cut for it
    ] as const) {
      const image = Uint8Array.from(whole.image)
      image.fill(0, from, to)
      const decided = decide({ bytes: image, sidecar: page() })
      const expected = to <= all ? first.length : all
      assert.equal(decided.size, expected, `bytes [${from}, ${to}) zero`)
      assert.deepEqual(decided.synced, { ...NOT_SYNCED, size: expected })
    }
  })

  it('a record whose earlier size is not one the file holds, or past its size, says nothing', () => {
    for (const from of [-1, 12.5, Number.NaN, all + 1]) {
      const decided = decide({ bytes: Uint8Array.from(whole.image), sidecar: page({ synced: { ...record, from } }) })
      assert.deepEqual([decided.source, decided.size], ['magic', all], `from ${from}`)
    }
  })

  it('the same boot: a new writer carries the record over as it is, to be checked after a later power cut', () => {
    const live = decide({ bytes: Uint8Array.from(whole.image), sidecar: page({ sameBoot: true }) })
    assert.deepEqual([live.sidecar, live.size, live.synced], ['trusted', all, record])
    // A record past the data a writer opens with: only what the sync before it made durable.
    const short = decide({ bytes: Uint8Array.from(whole.image), sidecar: page({ sameBoot: true, synced: { ...record, size: all + 8 } }) })
    assert.deepEqual(short.synced, { ...NOT_SYNCED, size: first.length })
  })
})

// ---- properties ----

const bytesArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 24 }).map((n) => new Uint8Array(n)) },
  { weight: 1, arbitrary: fc.constantFrom(TAIL_BYTES, CHECKPOINT_BYTES) },
  { weight: 1, arbitrary: fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.constantFrom(TAIL_BYTES, CHECKPOINT_BYTES), fc.uint8Array({ maxLength: 8 })).map((parts) => concat(parts)) },
)
const opArb: fc.Arbitrary<Op> = fc.oneof({ weight: 5, arbitrary: bytesArb.map(write) }, { weight: 1, arbitrary: fc.constant(checkpoint) })

/** Which bytes of the operation in flight landed, and how much of its MagicTail. */
const tearArb = (length: number) =>
  fc.record({
    landed: fc.oneof(
      fc.integer({ min: 0, max: length }).map((n) => Array.from({ length }, (_, i) => i < n)),
      fc.array(fc.boolean(), { minLength: length, maxLength: length }),
    ),
    tail: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  })

describe('reconcile: properties', () => {
  it('a writer killed at any instant reopens with exactly the data of every operation that returned', () => {
    const scenario = fc
      .tuple(fc.array(opArb, { minLength: 1, maxLength: 8 }), opArb, fc.integer({ min: 0, max: 1 }))
      .chain(([done, last, extra]) => {
        const data = last.kind === 'write' ? last.bytes : CHECKPOINT_BYTES
        return fc.tuple(fc.constant(done), fc.constant(data), tearArb(data.length), fc.constant(extra), fc.boolean())
      })
    fc.assert(
      fc.property(scenario, ([done, inFlight, tear, extra, readOnly]) => {
        const committed = streamOf(done).data
        const begin = committed.length
        const end = begin + inFlight.length
        const image = new Uint8Array(roundUp(end + 8, PAGE) + extra * PAGE)
        image.set(committed)
        if (done.length > 0) image.set(TAIL_BYTES, begin)
        inFlight.forEach((byte, i) => {
          if (tear.landed[i] === true) image[begin + i] = byte
        })
        const allLanded = tear.landed.every(Boolean)
        if (allLanded && tear.tail >= 1) image.set(TAIL_BYTES.subarray(0, 4), end)
        if (allLanded && tear.tail === 2) image.set(TAIL_BYTES.subarray(4), end + 4)
        const page = pageOf(committed, image.length, { lastCheckpoint: streamOf(done).checkpoints.at(-1) ?? -1 })
        const decided = decide({ bytes: image, sidecar: page, readOnly })
        assert.equal(decided.corrupted, false)
        assert.equal(decided.size, begin, 'exactly the committed data')
        assert.equal(decided.state, readOnly ? FileState.EOF : FileState.Opened)
        if (readOnly) assert.equal(decided.cutEnd, null)
        else if (decided.source === 'sidecar') assert.ok(decided.cutEnd !== null && decided.cutEnd >= begin)
        else assert.equal(decided.cutEnd, null, 'magic at exactly the committed size needs no cut')
        const checkpoints = streamOf(done).checkpoints
        assert.equal(decided.lastCheckpoint, checkpoints.at(-1) ?? -1)
      }),
      { numRuns: 600 },
    )
  })

  it('a writer killed in its first operation reopens empty, or with that operation if it looks whole', () => {
    const scenario = opArb.chain((op) => {
      const data = op.kind === 'write' ? op.bytes : CHECKPOINT_BYTES
      return fc.tuple(fc.constant(data), tearArb(data.length))
    })
    fc.assert(
      fc.property(scenario, ([inFlight, tear]) => {
        const image = new Uint8Array(roundUp(inFlight.length + 8, PAGE))
        inFlight.forEach((byte, i) => {
          if (tear.landed[i] === true) image[i] = byte
        })
        if (tear.landed.every(Boolean) && tear.tail === 2) image.set(TAIL_BYTES, inFlight.length)
        const decided = decide({ bytes: image, sidecar: pageOf(new Uint8Array(0), image.length) })
        assert.equal(decided.corrupted, false)
        assert.equal(decided.state === FileState.Opened || decided.source === 'magic', true)
        if (decided.size === 0) return
        // Nothing is committed, so the sidecar holds no bytes to vouch for it, and a file the
        // magic numbers find clean is taken as it is (docs/FORMAT.md says so).
        const magic = recoverWithMagic(image.length, image)
        assert.equal(decided.source, 'magic')
        assert.equal(decided.size, magic.tail)
      }),
      { numRuns: 400 },
    )
  })

  it('a clean file of another stream put at the path is never cut by the dead writer’s sidecar', () => {
    const scenario = fc.tuple(
      fc.array(opArb, { minLength: 1, maxLength: 6 }),
      fc.array(opArb, { maxLength: 8 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 2 }),
    )
    fc.assert(
      fc.property(scenario, ([deadOps, otherOps, finished, extra]) => {
        const deadData = streamOf(deadOps).data
        const other = streamOf(otherOps)
        const image = finished
          ? concat([other.data, CHECKPOINT_BYTES])
          : liveImage(otherOps, PAGE, extra).image
        // Another stream: it does not begin with the dead writer's first bytes.
        const head = deadData.slice(0, HEAD_SIZE)
        fc.pre(!Buffer.from(image.subarray(0, head.length)).equals(Buffer.from(head)))
        // As long as the dead writer's file, or longer: a shorter one is refused earlier.
        const page = pageOf(deadData, Math.min(image.length, roundUp(deadData.length + 8, PAGE)))
        fc.pre(page.committedSize + 8 <= page.allocatedSize)
        const decided = decide({ bytes: image, sidecar: page })
        assert.notEqual(decided.source, 'sidecar')
        assert.equal(decided.cutEnd, null)
        assert.equal(decided.size, other.data.length)
        assert.equal(decided.state, finished ? FileState.EOF : FileState.Opened)
      }),
      { numRuns: 400 },
    )
  })
})
