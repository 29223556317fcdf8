// Guarantee 1, instant by instant: a writer killed inside an operation. A child runs some
// operations and kills itself with SIGKILL, which leaves the data file and its sidecar as a
// killed writer leaves them; the test then stores the part of the next operation that "landed"
// (the bytes a memcpy had copied so far, the words of the MagicTail), exactly as the killed
// writer would have through the mapping, and reopens. The data must be every operation that
// returned, plus at most the one in flight if it completed; the file must be open for writing.
// These are the instants a random kill rarely hits: copies that begin with zeros (they wipe the
// MagicTail and leave no torn bytes to see), and records that hold a magic number.
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

import { FileState, Manager } from '../../src/index.ts'
import { spawnHelper } from '../helpers/child.ts'
import { CHECKPOINT_BYTES, TAIL_BYTES, concat } from '../helpers/aof-model.ts'

type Op = { write: Uint8Array } | { checkpoint: true }

interface Scenario {
  name: string
  /** Operations that returned before the kill. */
  done: Op[]
  /** The operation in flight: its data bytes (a checkpoint's are the MagicCheckpoint). */
  inFlight: Uint8Array
  /** Which of its bytes landed: a prefix length, or every byte. */
  landed: number
  /** Words of the new MagicTail that landed (only once every byte did). */
  tailWords?: 0 | 1 | 2
}

function noise(length: number, salt: number): Uint8Array {
  // Non-zero pseudo-random bytes.
  return Uint8Array.from({ length }, (_, i) => ((i * 73 + salt * 151 + 17) % 255) + 1)
}

const X = noise(40, 1)
const zeroLed = concat([new Uint8Array(16), noise(16, 2)])

const scenarios: Scenario[] = [
  { name: 'an ordinary copy torn half way', done: [{ write: X }], inFlight: noise(64, 3), landed: 30 },
  { name: 'the first write of a file torn half way', done: [], inFlight: noise(64, 4), landed: 20 },
  { name: 'a write complete but its size not yet published', done: [{ write: X }], inFlight: noise(24, 5), landed: 24, tailWords: 2 },
  { name: 'a write whose MagicTail is half stored', done: [{ write: X }], inFlight: noise(24, 6), landed: 24, tailWords: 1 },
  { name: 'a checkpoint() whose MagicTail did not land', done: [{ write: X }], inFlight: CHECKPOINT_BYTES, landed: 8 },
  { name: 'a checkpoint() whose MagicTail is half stored', done: [{ write: X }], inFlight: CHECKPOINT_BYTES, landed: 8, tailWords: 1 },
  { name: 'a zero-led copy wiping the MagicTail after a write', done: [{ write: X }], inFlight: zeroLed, landed: 8 },
  {
    name: 'a zero-led copy wiping the MagicTail right after a checkpoint()',
    done: [{ write: X }, { checkpoint: true }],
    inFlight: zeroLed,
    landed: 8,
  },
  {
    name: 'a zero-led copy after a checkpoint() and a record of zeros',
    done: [{ write: X }, { checkpoint: true }, { write: new Uint8Array(40) }],
    inFlight: zeroLed,
    landed: 12,
  },
  { name: 'a zero-led copy after records of zeros only', done: [{ write: new Uint8Array(100) }], inFlight: zeroLed, landed: 8 },
  {
    name: 'a copy torn right after a MagicTail inside the record',
    done: [{ write: X }],
    inFlight: concat([noise(8, 7), TAIL_BYTES, noise(20, 8)]),
    landed: 16,
  },
  {
    name: 'a copy torn right after a MagicCheckpoint inside the record',
    done: [{ write: X }],
    inFlight: concat([noise(8, 9), CHECKPOINT_BYTES, noise(20, 10)]),
    landed: 16,
  },
  {
    name: 'a copy torn after a MagicCheckpoint and zeros inside the record',
    done: [{ write: X }, { checkpoint: true }],
    inFlight: concat([CHECKPOINT_BYTES, new Uint8Array(12), noise(20, 11)]),
    landed: 20,
  },
]

function committedData(done: Op[]): Uint8Array {
  return concat(done.map((op) => ('write' in op ? op.write : CHECKPOINT_BYTES)))
}

describe('a writer killed inside an operation', () => {
  let dir = ''
  const pathOf = (index: number): string => join(dir, `torn-${index}.aof`)
  before(async () => {
    // One child prepares every scenario's file: its start-up is most of this test's time.
    dir = mkdtempSync(join(tmpdir(), 'aofkit-torn-'))
    const files = scenarios.map((scenario, index) => ({
      path: pathOf(index),
      ops: scenario.done.map((op) => ('write' in op ? { write: Buffer.from(op.write).toString('hex') } : { checkpoint: true })),
    }))
    // One more for the reboot test: a write, then a checkpoint, then another write.
    files.push({ path: pathOf(scenarios.length), ops: [{ write: 'aa'.repeat(40) }, { checkpoint: true }, { write: 'bb'.repeat(40) }] })
    const json = JSON.stringify(files)
    const child = spawnHelper('killed-writer.ts', [json])
    const { signal } = await child.exited
    assert.equal(signal, 'SIGKILL', child.stderr())
  })

  after(() => rmSync(dir, { recursive: true, force: true }))

  scenarios.forEach((scenario, index) => {
    it(`keeps every returned write: ${scenario.name}`, async () => {
      const path = pathOf(index)
      // Store what the killed writer had stored of the operation in flight.
      const committed = committedData(scenario.done)
      const begin = committed.length
      const fd = openSync(path, 'r+')
      try {
        writeSync(fd, scenario.inFlight.subarray(0, scenario.landed), 0, scenario.landed, begin)
        const after = begin + scenario.inFlight.length
        if ((scenario.tailWords ?? 0) >= 1) writeSync(fd, TAIL_BYTES.subarray(0, 4), 0, 4, after)
        if (scenario.tailWords === 2) writeSync(fd, TAIL_BYTES.subarray(4), 0, 4, after + 4)
      } finally {
        closeSync(fd)
      }

      const manager = new Manager({ flushIntervalMs: 0 })
      try {
        const file = manager.open(path)
        const recovery = JSON.stringify(file.recovery, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
        assert.equal(file.state, FileState.Opened, `opened in state ${file.state}; recovery ${recovery}`)
        const completed = scenario.tailWords === 2
        const allowed = completed ? [committed, concat([committed, scenario.inFlight])] : [committed]
        const data = Buffer.from(file.contents())
        assert.ok(
          allowed.some((expected) => data.equals(expected)),
          `reopened with ${data.length} bytes, expected ${allowed.map((a) => a.length).join(' or ')}; recovery ${recovery}`,
        )
        // It goes on from there, and reopens with what it wrote.
        const more = noise(10, 99)
        file.write(more)
        const expected = concat([data, more])
        await file.close()
        const again = manager.open(path)
        assert.equal(again.state, FileState.Opened)
        assert.deepEqual(Buffer.from(again.contents()), Buffer.from(expected))
        await again.close()
      } finally {
        await manager.close()
      }
    })
  })

  it('does not trust the sidecar of a writer from an earlier boot (its page cache is gone)', async () => {
    const path = pathOf(scenarios.length)
    // Tear a write after the committed data, and make the sidecar look as if written before a
    // reboot: the magic numbers alone must decide, and they find the data Corrupted.
    const fd = openSync(path, 'r+')
    try {
      writeSync(fd, noise(30, 12), 0, 30, 88)
    } finally {
      closeSync(fd)
    }
    const shm = openSync(`${path}-shm`, 'r+')
    try {
      writeSync(shm, Buffer.from('0123456789abcdef'), 0, 16, 64)
    } finally {
      closeSync(shm)
    }
    const manager = new Manager({ flushIntervalMs: 0 })
    try {
      assert.throws(() => manager.open(path), { code: 'ERR_AOF_CORRUPTED' })
      // repair cuts back to the last checkpoint, the last point the magic numbers can vouch for.
      const file = manager.open(path, { recovery: { repair: true } })
      assert.equal(file.recovery.source, 'repair')
      assert.deepEqual(Buffer.from(file.contents()), Buffer.concat([Buffer.alloc(40, 0xaa), CHECKPOINT_BYTES]))
      await file.close()
    } finally {
      await manager.close()
    }
  })
})
