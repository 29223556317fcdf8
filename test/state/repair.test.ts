// Repair on open never cuts what a torn write cannot explain: a complete entry, a damaged
// record, or a file that is not a log. Damage (one flipped bit) at many offsets of logs under
// and over one 32 KiB block, in plain files and in AppendOnlyFiles, through StateWriter.open
// and StateStore.open, is refused with the file's bytes unchanged; files that are not logs
// are refused too; real torn writes (every prefix of an entry) are still cut.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isAofkitError } from '../../src/errors.ts'
import { restore } from '../../src/state/restore.ts'
import { StateStore } from '../../src/state/state-store.ts'
import { StateWriter } from '../../src/state/state-writer.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const refused = (error: unknown): boolean => isAofkitError(error, 'ERR_LOG_CORRUPTED') || isAofkitError(error, 'ERR_STATE_CORRUPT')

/** Writes `count` durable JSON updates of about `size` bytes each; returns the entries' ends. */
async function writeLog(path: string, count: number, size: number, appendOnlyFile = false): Promise<number[]> {
  const writer = await StateWriter.open(path, appendOnlyFile ? { appendOnlyFile: true } : {})
  const ends: number[] = []
  for (let k = 0; k < count; k++) {
    await writer.update(Buffer.from(JSON.stringify({ k, pad: 'x'.repeat(size) })))
    ends.push(writer.size)
  }
  await writer.close()
  return ends
}

/** Offsets to damage: the first record's header fields, its data, and each entry's middle. */
function damageOffsets(ends: number[]): number[] {
  const offsets = [0, 3, 4, 5, 7, 14, 15, 20]
  for (let k = 0; k < ends.length; k++) {
    const begin = k === 0 ? 0 : ends[k - 1]!
    offsets.push(Math.floor((begin + ends[k]!) / 2), ends[k]! - 1)
  }
  return [...new Set(offsets)]
}

async function assertRefused(path: string, open: () => Promise<unknown>, context: string, dataEnd: number): Promise<void> {
  const before = readFileSync(path).subarray(0, dataEnd)
  await assert.rejects(open(), refused, context)
  assert.deepEqual(readFileSync(path).subarray(0, dataEnd), before, `${context}: nothing was cut`)
  assert.ok(readFileSync(path).length >= dataEnd, `${context}: nothing was cut`)
}

function storeOptions(path: string, appendOnlyFile = false) {
  return { path, initial: {}, apply: (state: object) => state, ...(appendOnlyFile ? { appendOnlyFile: true } : {}) }
}

describe('repair never cuts a complete entry or damage', () => {
  for (const [name, count, size] of [['under 32 KiB', 10, 100], ['over 32 KiB', 10, 5000]] as const) {
    it(`a plain log ${name}: one flipped bit anywhere is refused, nothing cut`, async (t) => {
      const dir = tmpDir(t)
      const clean = join(dir, 'clean.log')
      const ends = await writeLog(clean, count, size)
      const bytes = readFileSync(clean)
      assert.equal(bytes.length < 32768, name === 'under 32 KiB')
      for (const at of damageOffsets(ends)) {
        const path = join(dir, `flip-${at}.log`)
        const damaged = Buffer.from(bytes)
        damaged[at] = damaged[at]! ^ 0x01
        writeFileSync(path, damaged)
        await assertRefused(path, () => StateWriter.open(path), `StateWriter, bit flipped at ${at}`, damaged.length)
        await assertRefused(path, () => StateStore.open(storeOptions(path)), `StateStore, bit flipped at ${at}`, damaged.length)
      }
    })
  }

  it('a log in an AppendOnlyFile: damage at its first record and elsewhere is refused, nothing cut', async (t) => {
    const dir = tmpDir(t)
    for (const [count, size] of [[10, 100], [10, 5000]] as const) {
      const clean = join(dir, `clean-${size}.aof`)
      const ends = await writeLog(clean, count, size, true)
      const bytes = readFileSync(clean)
      const dataEnd = ends.at(-1)!
      for (const at of [0, 4, 20, Math.floor(dataEnd / 2), dataEnd - 1]) {
        const path = join(dir, `flip-${size}-${at}.aof`)
        const damaged = Buffer.from(bytes)
        damaged[at] = damaged[at]! ^ 0x01
        writeFileSync(path, damaged)
        const context = `AppendOnlyFile of ${bytes.length} bytes, bit flipped at ${at}`
        await assertRefused(path, () => StateWriter.open(path, { appendOnlyFile: true }), context, dataEnd)
        await assertRefused(path, () => StateStore.open(storeOptions(path, true)), `${context}, StateStore`, dataEnd)
      }
    }
  })

  it('a small file that is not a log is refused and left as it was', async (t) => {
    const dir = tmpDir(t)
    let seed = 7
    const random = Buffer.alloc(1000, 0).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24)
    const files: Array<[string, Uint8Array]> = [
      ['text', Buffer.from('hello, world\n')],
      ['json', Buffer.from(JSON.stringify({ settings: { a: 1, b: [1, 2, 3] } }))],
      ['random', random],
      ['png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0])],
      ['random over 32 KiB', Buffer.concat(Array.from({ length: 40 }, () => random))],
    ]
    for (const [name, content] of files) {
      const path = join(dir, `${name}.bin`)
      writeFileSync(path, content)
      await assertRefused(path, () => StateWriter.open(path), name, content.length)
      await assertRefused(path, () => StateStore.open(storeOptions(path)), `${name}, StateStore`, content.length)
    }
  })

  it('a last entry whose end a power loss left unwritten (zeros from a sector boundary) is cut', async (t) => {
    const dir = tmpDir(t)
    for (const [count, size] of [[1, 3000], [5, 3000], [5, 40_000]] as const) {
      const clean = join(dir, `clean-${count}-${size}.log`)
      const ends = await writeLog(clean, count, size)
      const bytes = readFileSync(clean)
      const begin = count === 1 ? 0 : ends.at(-2)!
      // Zeros from the first sector boundary past the last entry's header to the end of the file.
      const sector = Math.ceil((begin + 16) / 512) * 512
      const path = join(dir, `unwritten-${count}-${size}.log`)
      writeFileSync(path, Buffer.concat([bytes.subarray(0, sector), Buffer.alloc(bytes.length - sector)]))
      const writer = await StateWriter.open(path)
      assert.equal(writer.cut?.offset, begin, `${count} entries of ${size} bytes`)
      assert.equal([...writer.restored.updates].length, count - 1)
      await writer.close()
      // One flipped bit instead is damage, not a torn write.
      const flipped = Buffer.from(bytes)
      flipped[sector] = flipped[sector]! ^ 0x01
      const damaged = join(dir, `flipped-${count}-${size}.log`)
      writeFileSync(damaged, flipped)
      await assertRefused(damaged, () => StateWriter.open(damaged), `flipped at ${sector}`, flipped.length)
    }
  })

  it('a torn first entry (every prefix of it) and zeros are still cut', async (t) => {
    const dir = tmpDir(t)
    for (const [size, extra] of [[100, 0], [40_000, 0], [100, 1]] as const) {
      const clean = join(dir, `clean-${size}-${extra}.log`)
      const ends = await writeLog(clean, 1 + extra, size)
      const bytes = readFileSync(clean)
      const begin = extra === 0 ? 0 : ends[0]!
      const end = ends.at(-1)!
      for (const at of [begin + 1, begin + 4, begin + 5, begin + 7, begin + 15, begin + 16, Math.floor((begin + end) / 2), end - 1]) {
        const path = join(dir, `torn-${size}-${extra}-${at}.log`)
        writeFileSync(path, bytes.subarray(0, at))
        const writer = await StateWriter.open(path)
        assert.deepEqual(writer.cut && { offset: writer.cut.offset, size: writer.cut.size }, { offset: begin, size: at - begin }, `torn at ${at}`)
        await writer.close()
        assert.equal(readFileSync(path).length, begin)
      }
      const zeros = join(dir, `zeros-${size}-${extra}.log`)
      writeFileSync(zeros, Buffer.concat([bytes, Buffer.alloc(100)]))
      const writer = await StateWriter.open(zeros)
      assert.equal(writer.cut?.offset, end)
      assert.equal([...writer.restored.updates].length, 1 + extra)
      await writer.close()
      assert.equal([...restore(zeros).updates].length, 1 + extra)
    }
  })
})
