/**
 * Measures XXH64 implementations on the record log's hot path, the checksum of one record, to
 * choose one (docs/PERFORMANCE.md, "Our own XXH64"; figures in docs/BENCHMARKS.md).
 *
 * Subjects, all computing XXH64 (seed 0) and keeping the low 32 bits as logio does:
 * - aofkit's checksum (src/log/checksum.ts): our own XXH64 in WebAssembly (src/io/xxh64.wat),
 *   which returns the low 32 bits as a number, the choice;
 * - aofkit's record checksum as the writer calls it: from the header fields and the entry;
 * - `xxhash-wasm` `h64Raw` (WebAssembly, returns a bigint), the previous choice;
 * - a pure TypeScript XXH64 on 32-bit halves, no BigInt (below, the best of several we tried);
 * - `@node-rs/xxhash` `xxh64` (napi-rs native addon, prebuilt, returns a bigint);
 * - `xxhash-addon` `XXHash64.hash` (C addon, prebuilt, returns a Buffer).
 * Results are cross-checked before timing. Sizes: 100 B (a typical entry), 111 B (what a
 * 100-byte entry's record checksums: 11 header bytes + data), 4 KiB, and 32 KiB (a full block).
 *
 * Run: node --import tsx bench/checksum.bench.ts [--json]
 * The two native addons compared are in bench/package.json: npm install --prefix bench.
 * @module
 */
import './built.ts'
import { randomBytes } from 'node:crypto'
import { checksumRange, recordChecksum } from '../dist/log/checksum.js'
import xxhashWasm from 'xxhash-wasm'
import { comparedPackage } from './harness.ts'

// The compared native addons come from bench/package.json (npm install --prefix bench); a
// package that is not installed is left out of the table.
// Both are CommonJS: their exports are the default export.
const napiXxhash = await comparedPackage<{ default: { xxh64: (bytes: Uint8Array) => bigint } }>('@node-rs/xxhash')
const xxhashAddon = await comparedPackage<{ default: { XXHash64: { hash: (bytes: Buffer) => Buffer } } }>('xxhash-addon')

const hasher = await xxhashWasm()
const xxhash64 = (bytes: Uint8Array): bigint => hasher.h64Raw(bytes)

// ---- The pure TypeScript XXH64 measured here (not used by the library). ----

// The five XXH64 primes, as (high, low) 32-bit halves.
const P1H = 0x9e3779b1
const P1L = 0x85ebca87
const P2H = 0xc2b2ae3d
const P2L = 0x27d4eb4f
const P3H = 0x165667b1
const P3L = 0x9e3779f9
const P4H = 0x85ebca77
const P4L = 0xc2b2ae63
const P5H = 0x27d4eb2f
const P5L = 0x165667c5

// Results of the 64-bit helpers below (high, low), in a typed array rather than module-level
// variables: storing a number above 2^31 into a variable captured by a closure allocates a heap
// number in V8, a store into an Int32Array does not.
const R = new Uint32Array(2)

/** (ah, al) * (bh, bl) mod 2^64 into ((R[0] as number), (R[1] as number)). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const t = a0 * b0
  const mid = a1 * b0 + a0 * b1 + (t >>> 16)
  R[1] = Math.imul(al, bl) >>> 0
  R[0] = (a1 * b1 + ((mid / 65536) | 0) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
}

/** One XXH64 round: rotl(acc + input * P2, 31) * P1, into ((R[0] as number), (R[1] as number)). */
function round(acch: number, accl: number, inh: number, inl: number): void {
  mul(inh, inl, P2H, P2L)
  const sl = accl + (R[1] as number)
  const sh = (acch + (R[0] as number) + (sl > 0xffffffff ? 1 : 0)) >>> 0
  const l = sl >>> 0
  // rotl by 31
  const nh = ((sh << 31) | (l >>> 1)) >>> 0
  const nl = ((l << 31) | (sh >>> 1)) >>> 0
  mul(nh, nl, P1H, P1L)
}

/** h = (h ^ round(0, v)) * P1 + P4, into ((R[0] as number), (R[1] as number)). */
function mergeRound(hh: number, hl: number, vh: number, vl: number): void {
  round(0, 0, vh, vl)
  mul((hh ^ (R[0] as number)) >>> 0, (hl ^ (R[1] as number)) >>> 0, P1H, P1L)
  const sl = (R[1] as number) + P4L
  R[0] = ((R[0] as number) + P4H + (sl > 0xffffffff ? 1 : 0)) >>> 0
  R[1] = sl >>> 0
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0
}

/** XXH64 (seed 0) of `bytes[start, end)` into ((R[0] as number), (R[1] as number)). */
function xxh64(bytes: Uint8Array, start: number, end: number): void {
  const length = end - start
  let i = start
  let hh: number
  let hl: number
  if (length >= 32) {
    // v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1 (mod 2^64).
    let v1h = 0x60ea27ee
    let v1l = 0xadc0b5d6
    let v2h = P2H
    let v2l = P2L
    let v3h = 0
    let v3l = 0
    let v4h = 0x61c8864e
    let v4l = 0x7a143579
    const limit = end - 32
    while (i <= limit) {
      round(v1h, v1l, u32(bytes, i + 4), u32(bytes, i))
      v1h = (R[0] as number)
      v1l = (R[1] as number)
      round(v2h, v2l, u32(bytes, i + 12), u32(bytes, i + 8))
      v2h = (R[0] as number)
      v2l = (R[1] as number)
      round(v3h, v3l, u32(bytes, i + 20), u32(bytes, i + 16))
      v3h = (R[0] as number)
      v3l = (R[1] as number)
      round(v4h, v4l, u32(bytes, i + 28), u32(bytes, i + 24))
      v4h = (R[0] as number)
      v4l = (R[1] as number)
      i += 32
    }
    // h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)
    let sl = (((v1l << 1) | (v1h >>> 31)) >>> 0) + (((v2l << 7) | (v2h >>> 25)) >>> 0)
    let sh = (((v1h << 1) | (v1l >>> 31)) >>> 0) + (((v2h << 7) | (v2l >>> 25)) >>> 0) + (sl > 0xffffffff ? 1 : 0)
    sl = (sl >>> 0) + (((v3l << 12) | (v3h >>> 20)) >>> 0)
    sh = sh + (((v3h << 12) | (v3l >>> 20)) >>> 0) + (sl > 0xffffffff ? 1 : 0)
    sl = (sl >>> 0) + (((v4l << 18) | (v4h >>> 14)) >>> 0)
    sh = sh + (((v4h << 18) | (v4l >>> 14)) >>> 0) + (sl > 0xffffffff ? 1 : 0)
    hh = sh >>> 0
    hl = sl >>> 0
    mergeRound(hh, hl, v1h, v1l)
    mergeRound((R[0] as number), (R[1] as number), v2h, v2l)
    mergeRound((R[0] as number), (R[1] as number), v3h, v3l)
    mergeRound((R[0] as number), (R[1] as number), v4h, v4l)
    hh = (R[0] as number)
    hl = (R[1] as number)
  } else {
    hh = P5H
    hl = P5L
  }
  // h += length (length < 2^32 here: records are at most 32 KiB, and inputs stay far below 4 GiB).
  {
    const sl = hl + length
    hh = (hh + Math.floor(length / 4294967296) + (sl > 0xffffffff ? 1 : 0)) >>> 0
    hl = sl >>> 0
  }
  while (i + 8 <= end) {
    round(0, 0, u32(bytes, i + 4), u32(bytes, i))
    hh = (hh ^ (R[0] as number)) >>> 0
    hl = (hl ^ (R[1] as number)) >>> 0
    // h = rotl(h, 27) * P1 + P4
    mul(((hh << 27) | (hl >>> 5)) >>> 0, ((hl << 27) | (hh >>> 5)) >>> 0, P1H, P1L)
    const sl = (R[1] as number) + P4L
    hh = ((R[0] as number) + P4H + (sl > 0xffffffff ? 1 : 0)) >>> 0
    hl = sl >>> 0
    i += 8
  }
  if (i + 4 <= end) {
    // h ^= u32 * P1; h = rotl(h, 23) * P2 + P3
    mul(0, u32(bytes, i), P1H, P1L)
    hh = (hh ^ (R[0] as number)) >>> 0
    hl = (hl ^ (R[1] as number)) >>> 0
    mul(((hh << 23) | (hl >>> 9)) >>> 0, ((hl << 23) | (hh >>> 9)) >>> 0, P2H, P2L)
    const sl = (R[1] as number) + P3L
    hh = ((R[0] as number) + P3H + (sl > 0xffffffff ? 1 : 0)) >>> 0
    hl = sl >>> 0
    i += 4
  }
  while (i < end) {
    // h ^= byte * P5; h = rotl(h, 11) * P1
    mul(0, bytes[i] as number, P5H, P5L)
    hh = (hh ^ (R[0] as number)) >>> 0
    hl = (hl ^ (R[1] as number)) >>> 0
    mul(((hh << 11) | (hl >>> 21)) >>> 0, ((hl << 11) | (hh >>> 21)) >>> 0, P1H, P1L)
    hh = (R[0] as number)
    hl = (R[1] as number)
    i++
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  mul(hh, (hl ^ (hh >>> 1)) >>> 0, P2H, P2L)
  mul(((R[0] as number) ^ ((R[0] as number) >>> 29)) >>> 0, ((R[1] as number) ^ (((R[0] as number) << 3) | ((R[1] as number) >>> 29))) >>> 0, P3H, P3L)
  R[1] = ((R[1] as number) ^ (R[0] as number)) >>> 0
}

/** Pure TypeScript XXH64 (seed 0), low 32 bits. */
function pureLow32(bytes: Uint8Array): number {
  xxh64(bytes, 0, bytes.length)
  return R[1] as number
}

interface Subject {
  name: string
  /** Returns the low 32 bits of XXH64(seed 0), the value the record log stores. */
  low32: (input: Uint8Array, index: number) => number
}

/** The inputs of the size being measured, split as the writer has them (header fields, entry). */
let records: { type: number; length: number; offset: number; entry: Uint8Array }[] = []

const subjects: Subject[] = [
  { name: 'aofkit checksumRange (own wasm)', low32: (b) => checksumRange(b, 0, b.length) },
  {
    // The bytes as the writer has them: 11 header bytes (here: the input's first 11) and the
    // entry (the rest), hashed without building the record.
    name: 'aofkit recordChecksum (own wasm, writer path)',
    low32: (_, index) => {
      const record = records[index]!
      return recordChecksum(record.type, record.length, record.offset, record.entry, 0)
    },
  },
  { name: 'xxhash-wasm h64Raw (wasm, bigint)', low32: (b) => Number(BigInt.asUintN(32, hasher.h64Raw(b))) },
  { name: 'pure TypeScript, 32-bit halves', low32: pureLow32 },
]
if (napiXxhash !== null) {
  const { xxh64 } = napiXxhash.default
  subjects.push({ name: '@node-rs/xxhash xxh64 (napi, bigint)', low32: (b) => Number(xxh64(b) & 0xffffffffn) })
}
if (xxhashAddon !== null) {
  const { XXHash64 } = xxhashAddon.default
  subjects.push({ name: 'xxhash-addon XXHash64.hash (C, Buffer)', low32: (b) => XXHash64.hash(b as Buffer).readUInt32BE(4) })
}

/** The offset field of a record-shaped input (bytes 3..10, little-endian; kept below 2^48). */
function headerOffset(bytes: Uint8Array): number {
  let value = 0
  for (let index = 10; index >= 3; index--) value = value * 256 + bytes[index]!
  return value
}

/** Random bytes shaped like a record's checksummed part: type, length of the rest, offset, data. */
function recordShaped(size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size))
  bytes[1] = (size - 11) & 0xff
  bytes[2] = (size - 11) >>> 8
  bytes[9] = 0
  bytes[10] = 0
  return bytes
}

const sizes = [100, 111, 4096, 32768]
const INPUT_COUNT = 64

function measure(subject: Subject, inputs: Uint8Array[], budgetMs: number): number {
  let sink = 0
  let iterations = 0
  let best = 0
  // Five timed rounds after a warm-up; report the best rate (least disturbed by the machine).
  for (let roundIndex = 0; roundIndex < 6; roundIndex++) {
    const start = process.hrtime.bigint()
    let count = 0
    let elapsedNs = 0
    do {
      for (let i = 0; i < 1024; i++) sink ^= subject.low32(inputs[i & (INPUT_COUNT - 1)] as Uint8Array, i & (INPUT_COUNT - 1))
      count += 1024
      elapsedNs = Number(process.hrtime.bigint() - start)
    } while (elapsedNs < budgetMs * 1e6)
    if (roundIndex > 0) best = Math.max(best, count / (elapsedNs / 1e9))
    iterations += count
  }
  if (sink === 0.5) console.log(iterations)
  return best
}

const json = process.argv.includes('--json')
const results: { size: number; subject: string; opsPerSec: number; nsPerOp: number; ratio: number }[] = []
for (const size of sizes) {
  const inputs = Array.from({ length: INPUT_COUNT }, () => recordShaped(size))
  records = inputs.map((input) => ({
    type: input[0]!,
    length: input.length - 11,
    offset: headerOffset(input),
    entry: input.slice(11),
  }))
  for (const [index, input] of inputs.entries()) {
    const expected = Number(xxhash64(input) & 0xffffffffn)
    for (const subject of subjects) {
      if (subject.low32(input, index) >>> 0 !== expected) throw new Error(`${subject.name} disagrees at ${size} B`)
    }
  }
  const budgetMs = size > 4096 ? 150 : 200
  const rates = subjects.map((subject) => measure(subject, inputs, budgetMs))
  const baseline = rates[0] as number
  subjects.forEach((subject, index) => {
    const rate = rates[index] as number
    results.push({ size, subject: subject.name, opsPerSec: rate, nsPerOp: 1e9 / rate, ratio: rate / baseline })
  })
}

if (json) {
  console.log(JSON.stringify({ node: process.version, results }, null, 2))
} else {
  console.log(`node ${process.version}; XXH64 seed 0, low 32 bits; best of 5 rounds; ratio = rate / aofkit's rate`)
  for (const size of sizes) {
    console.log(`\n${size} B input`)
    for (const r of results.filter((row) => row.size === size)) {
      const mbps = (r.opsPerSec * size) / 1e6
      console.log(
        `  ${r.subject.padEnd(42)} ${(r.opsPerSec / 1e6).toFixed(2).padStart(7)} M/s ${r.nsPerOp.toFixed(0).padStart(7)} ns ${mbps.toFixed(0).padStart(6)} MB/s  x${r.ratio.toFixed(2)}`,
      )
    }
  }
}
