/**
 * XXH64 (seed 0), low 32 bits, computed by aofkit's own WebAssembly module (xxh64.wat,
 * compiled into xxh64-wasm.ts by scripts/build-wasm.mjs). It returns the low half as a plain
 * number: the XXH64 packages measured hand back a BigInt per call, which on small inputs cost
 * more than the hash (docs/PERFORMANCE.md, "Our own XXH64"). The record log's checksum and the
 * check of a sync's record in the sidecar use it.
 * @module
 */
import { copyBytes } from './copy-bytes.ts'
import { XXH64_WASM } from './xxh64-wasm.ts'

// The few WebAssembly names used here (the compiler's lib settings do not declare them).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: unknown }
}

interface Xxh64Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number }
  /** XXH64 (seed 0) of memory[XXH64_STAGE_SIZE, XXH64_STAGE_SIZE + length), low 32 bits (signed). */
  checksum(length: number): number
  /** XXH64 (seed 0) of memory[at, at + length), length at most XXH64_STAGE_SIZE, low 32 bits (signed). */
  checksumAt(at: number, length: number): number
}

// 690 bytes: compiled synchronously at import, in well under a millisecond.
const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(XXH64_WASM, 'base64')))
  .exports as Xxh64Exports

/**
 * The module's memory: a staging area of {@link XXH64_STAGE_SIZE} bytes, where a reader puts
 * a block of records once to check each of them in place, then the input area, where every
 * other input is copied before it is hashed (grown as needed). The module's code names this
 * offset as a constant (xxh64.wat): change both together.
 */
export const XXH64_STAGE_SIZE = 32 * 1024
let input = new Uint8Array(wasm.memory.buffer, XXH64_STAGE_SIZE)
let stage = new Uint8Array(wasm.memory.buffer, 0, XXH64_STAGE_SIZE)
/** The bytes whose copy the staging area holds, or null; and the bytes offered to it ({@link xxh64Offer}). */
let staged: Uint8Array | null = null
let offered: Uint8Array | null = null
/**
 * The longest range hashed on a staged copy: a longer one is copied on its own, as staging the
 * whole block for it would cost a second copy of the range (in the module, to its input).
 */
const STAGED_RANGE_MAX = 512

/**
 * The module's input: a view of at least `length` bytes, valid until the next call here. Write
 * the input at its start, then call {@link xxh64Input}.
 */
export function xxh64Memory(length: number): Uint8Array {
  return length <= input.length ? input : grownTo(length)
}

/** The rare half of {@link xxh64Memory}, apart so that the common half is inlined into every checksum. */
function grownTo(length: number): Uint8Array {
  wasm.memory.grow(Math.ceil((length - input.length) / 65536))
  input = new Uint8Array(wasm.memory.buffer, XXH64_STAGE_SIZE)
  stage = new Uint8Array(wasm.memory.buffer, 0, XXH64_STAGE_SIZE)
  return input
}

/** XXH64 (seed 0) of the first `length` bytes of {@link xxh64Memory}, low 32 bits, unsigned. */
export function xxh64Input(length: number): number {
  return wasm.checksum(length) >>> 0
}

/**
 * XXH64 (seed 0) of `bytes[start, end)`, low 32 bits, unsigned. A short range of the bytes
 * offered last ({@link xxh64Offer}) is hashed on their copy in the staging area, made at the
 * first such range; any other input is copied into the module's input first.
 */
export function xxh64Low(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start
  if (length <= STAGED_RANGE_MAX && (bytes === staged || (bytes === offered && stageOffered()))) {
    return wasm.checksumAt(start, length) >>> 0
  }
  copyBytes(xxh64Memory(length), start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), 0)
  return wasm.checksum(length) >>> 0
}

/**
 * Offers `bytes` (at most {@link XXH64_STAGE_SIZE} of them, e.g. a block of records) for
 * staging: at the first short range of them that {@link xxh64Low} hashes, they are copied into
 * the staging area once, and ranges of that very array are hashed there, with no copy or view
 * each, until other bytes are offered and staged. Only for bytes that do not change meanwhile:
 * a range of a changed array would be hashed as it was.
 */
export function xxh64Offer(bytes: Uint8Array): void {
  offered = bytes
}

function stageOffered(): true {
  copyBytes(stage, offered!, 0)
  staged = offered
  offered = null
  return true
}
