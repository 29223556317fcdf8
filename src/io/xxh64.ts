/**
 * XXH64 (seed 0), low 32 bits, computed by aofkit's own WebAssembly module (xxh64.wat,
 * compiled into xxh64-wasm.ts by scripts/build-wasm.mjs). It returns the low half as a plain
 * number: the XXH64 packages measured hand back a BigInt per call, which on small inputs cost
 * more than the hash (docs/PERFORMANCE.md, "Our own XXH64"). The record log's checksum and the
 * check of a sync's record in the sidecar use it.
 * @module
 */
import { XXH64_WASM } from './xxh64-wasm.ts'

// The few WebAssembly names used here (the compiler's lib settings do not declare them).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: unknown }
}

interface Xxh64Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number }
  /** XXH64 (seed 0) of memory[0, length), low 32 bits (signed). */
  checksum(length: number): number
}

// 582 bytes: compiled synchronously at import, in well under a millisecond.
const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(XXH64_WASM, 'base64')))
  .exports as Xxh64Exports
let memory = new Uint8Array(wasm.memory.buffer)

/**
 * The module's input: a view of at least `length` bytes, valid until the next call here. Write
 * the input at its start, then call {@link xxh64Input}.
 */
export function xxh64Memory(length: number): Uint8Array {
  return length <= memory.length ? memory : grownTo(length)
}

/** The rare half of {@link xxh64Memory}, apart so that the common half is inlined into every checksum. */
function grownTo(length: number): Uint8Array {
  wasm.memory.grow(Math.ceil((length - memory.length) / 65536))
  memory = new Uint8Array(wasm.memory.buffer)
  return memory
}

/** XXH64 (seed 0) of the first `length` bytes of {@link xxh64Memory}, low 32 bits, unsigned. */
export function xxh64Input(length: number): number {
  return wasm.checksum(length) >>> 0
}

/** XXH64 (seed 0) of `bytes[start, end)`, low 32 bits, unsigned. */
export function xxh64Low(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start
  xxh64Memory(length).set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end))
  return wasm.checksum(length) >>> 0
}
