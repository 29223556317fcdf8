/**
 * Checks of the arguments public entry points take, shared so that a wrong type fails the same
 * way everywhere: an {@link AofkitError} with ERR_AOF_INVALID_ARGUMENT, never a TypeError
 * from deep inside.
 * @module
 */
import { types } from 'node:util'

import { AofkitError, ErrorCode } from './errors.ts'

/** ERR_AOF_INVALID_ARGUMENT: the one way to make it, for every check in every layer. */
export function invalidArgument(message: string, path?: string): AofkitError {
  return new AofkitError(ErrorCode.InvalidArgument, message, path === undefined ? {} : { path })
}

/**
 * `value` as an error message shows it: a string quoted (so `'5'` is not taken for `5`; the
 * first 40 characters of a long one), a bigint with its `n`, another primitive as itself, an
 * object by its kind (never `[object Object]`).
 */
export function describeValue(value: unknown): string {
  // First: a Proxy may throw from any trap, and a revoked one from every operation.
  if (types.isProxy(value)) return 'a Proxy'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value !== null && typeof value === 'object') return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'bigint') return `${value}n`
  return String(value)
}

/** `options` as given, or `{}` when left out; anything but an object is refused. */
export function optionsOf<T extends object>(options: T | undefined, name = 'options'): T {
  if (options === undefined) return {} as T
  if (options === null || typeof options !== 'object') throw invalidArgument(`${name} must be an object, got ${describeValue(options)}`)
  return options
}

/** Refuses anything but an object (a sink, a source, a file). */
export function checkObject(value: unknown, what: string): void {
  if (value === null || typeof value !== 'object') throw invalidArgument(`${what}, got ${describeValue(value)}`)
}

/**
 * `%TypedArray%.prototype[Symbol.toStringTag]`: a typed array's own kind, `undefined` for anything else
 * (a Proxy of one too).
 */
const typedArrayName = (
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag) as { get: (this: unknown) => string | undefined }
).get

/**
 * True when `buffer` was detached (transferred to another thread, or by `structuredClone`): its
 * views then read as empty, and copying from them throws.
 */
function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false
  try {
    buffer.slice(0, 0)
    return false
  } catch {
    return true
  }
}

/**
 * The ERR_AOF_INVALID_ARGUMENT for `value` given as the bytes `name` that are not bytes aofkit
 * can read, saying what it is instead.
 * @param cause - What reading it threw, if it was read.
 */
export function invalidBytes(value: unknown, name: string, cause?: unknown): AofkitError {
  const what = typedArrayName.call(value) === 'Uint8Array' && isDetached((value as Uint8Array).buffer) ? 'a Uint8Array whose buffer was detached (transferred)' : describeValue(value)
  const message = `${name} must be a Uint8Array or Buffer, got ${what}`
  return new AofkitError(ErrorCode.InvalidArgument, message, cause === undefined ? {} : { cause })
}

/**
 * Refuses anything but bytes aofkit can read: a real Uint8Array (a Buffer is one; a view of a
 * SharedArrayBuffer too), not a Proxy of one, another typed array or an object dressed as one,
 * nor a view of a detached buffer.
 */
export function checkBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!isBytes(value)) throw invalidBytes(value, name)
}

/**
 * The length of `value` when it passes `instanceof Uint8Array` and a read of its length, else
 * -1: the check of a hot path, which costs nothing, where {@link checkBytes} costs a tenth of a
 * record log append. What passes it without being bytes that can be read (a Proxy, an object
 * made from the prototype, a view of a detached buffer) throws or gives no length here, or
 * later when it is copied; so a caller checks exactly, with checkBytes, when this says -1 or 0.
 */
export function quickLength(value: unknown): number {
  try {
    const length: unknown = value instanceof Uint8Array ? value.length : undefined
    return typeof length === 'number' ? length : -1
  } catch {
    return -1
  }
}

/** True for what {@link checkBytes} accepts. */
export function isBytes(value: unknown): value is Uint8Array {
  return typedArrayName.call(value) === 'Uint8Array' && ((value as Uint8Array).byteLength !== 0 || !isDetached((value as Uint8Array).buffer))
}

/**
 * The longest delay Node's timers keep, in ms (2^31 − 1, about 24.8 days): a longer one fires
 * after 1 ms instead.
 */
export const TIMER_MS_MAX = 2 ** 31 - 1

/**
 * Checks an option that sets a timer's period in ms: a number from `minimum` to
 * {@link TIMER_MS_MAX} (above zero unless `minimum` is 0), or `fallback` when left out.
 * @throws {@link AofkitError} ERR_AOF_INVALID_ARGUMENT for anything else, a period too long for
 *   a timer included.
 */
export function intervalMs(value: unknown, name: string, fallback: number, minimum = Number.MIN_VALUE): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= minimum && value <= TIMER_MS_MAX)) {
    const low = minimum === Number.MIN_VALUE ? '(0' : `[${minimum}`
    throw invalidArgument(`${name} must be a number of ms in ${low}, ${TIMER_MS_MAX}], got ${describeValue(value)}`)
  }
  return value
}

/** The descriptor of an open file given as a descriptor or a FileHandle (-1 once closed). */
export function descriptorOf(file: unknown): number {
  const fd = typeof file === 'number' ? file : file !== null && typeof file === 'object' ? (file as { fd?: unknown }).fd : undefined
  if (typeof fd !== 'number' || !Number.isSafeInteger(fd) || fd < 0) {
    throw invalidArgument(`file must be an open file descriptor or FileHandle, got ${describeValue(file)}`)
  }
  return fd
}
