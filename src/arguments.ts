/**
 * Checks of the arguments public entry points take, shared so that a wrong type fails the same
 * way everywhere: an {@link AofkitError} with ERR_AOF_INVALID_ARGUMENT, never a TypeError
 * from deep inside.
 * @module
 */
import { AofkitError, ErrorCode } from './errors.ts'

/** ERR_AOF_INVALID_ARGUMENT: the one way to make it, for every check in every layer. */
export function invalidArgument(message: string, path?: string): AofkitError {
  return new AofkitError(ErrorCode.InvalidArgument, message, path === undefined ? {} : { path })
}

/**
 * `value` as an error message shows it: a primitive as itself, an object by its kind (never
 * `[object Object]`).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value !== null && typeof value === 'object') return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
  return String(value)
}

/** `options` as given, or `{}` when left out; anything but an object is refused. */
export function optionsOf<T extends object>(options: T | undefined, name = 'options'): T {
  if (options === undefined) return {} as T
  if (options === null || typeof options !== 'object') throw invalidArgument(`${name} must be an object, got ${String(options)}`)
  return options
}

/** Refuses anything but an object (a sink, a source, a file). */
export function checkObject(value: unknown, what: string): void {
  if (value === null || typeof value !== 'object') throw invalidArgument(`${what}, got ${String(value)}`)
}

/** Refuses anything but a Uint8Array (a Buffer is one). */
export function checkBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgument(`${name} must be a Uint8Array or Buffer, got ${String(value)}`)
}

/** The descriptor of an open file given as a descriptor or a FileHandle (-1 once closed). */
export function descriptorOf(file: unknown): number {
  const fd = typeof file === 'number' ? file : file !== null && typeof file === 'object' ? (file as { fd?: unknown }).fd : undefined
  if (typeof fd !== 'number' || !Number.isSafeInteger(fd) || fd < 0) {
    throw invalidArgument(`file must be an open file descriptor or FileHandle, got ${describeValue(file)}`)
  }
  return fd
}
