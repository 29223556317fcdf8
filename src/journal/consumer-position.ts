/**
 * A durable consumer's committed position: `consumers/<name>.position`, 32 bytes (see
 * docs/FORMAT.md, "The journal"), replaced whole by write-temporary + fdatasync + rename +
 * fsync of the folder, so a crash leaves the old position or the new one, never a mix.
 * @module
 */
import { readFileSync, readdirSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'

import { invalidArgument } from '../arguments.ts'
import { AofkitError, ErrorCode, fromSystemError } from '../errors.ts'
import { checksumRange } from '../log/checksum.ts'
import { renameDurably } from '../io/durable.ts'
import { CONSUMERS_DIR } from './layout.ts'

const MAGIC = 'AOFKJCP1'
const FILE_SIZE = 32
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const SUFFIX = '.position'

/** A consumer's stored position. */
export interface StoredPosition {
  /** The first position not yet handled: the committed position plus one (0: none committed). */
  readonly next: number
  /** When it was committed (ms since the epoch). */
  readonly time: number
}

/** Refuses a consumer name that is not a safe file name (1–128 of A–Z a–z 0–9 _ . -, not leading '.' or '-'). */
export function checkConsumerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.endsWith('.tmp')) {
    throw invalidArgument(`a consumer name must be 1 to 128 of A-Z a-z 0-9 _ . - (not starting with . or -), got ${JSON.stringify(name)}`)
  }
}

/** The position file of consumer `name`. */
export function positionPath(dir: string, name: string): string {
  return join(dir, CONSUMERS_DIR, name + SUFFIX)
}

/** The lock file of consumer `name`. */
export function consumerLockPath(dir: string, name: string): string {
  return join(dir, CONSUMERS_DIR, `${name}.lock`)
}

/** Encodes a position file. */
function encode(next: number, time: number): Uint8Array {
  const bytes = new Uint8Array(FILE_SIZE)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(MAGIC), 0)
  view.setBigUint64(8, BigInt(next), true)
  view.setBigUint64(16, BigInt(Math.max(0, Math.floor(time))), true)
  view.setBigUint64(24, BigInt(checksumRange(bytes, 0, 24)), true)
  return bytes
}

/**
 * Reads consumer `name`'s position, or null when it has none.
 * @throws {@link AofkitError} ERR_AOF_CORRUPTED for a file that is not a valid position file.
 */
export function readPosition(dir: string, name: string): StoredPosition | null {
  const path = positionPath(dir, name)
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return null
    throw fromSystemError(error, path, 'read')
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const valid =
    bytes.length === FILE_SIZE &&
    new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC &&
    Number(view.getBigUint64(24, true)) === checksumRange(bytes, 0, 24)
  if (!valid) throw new AofkitError(ErrorCode.Corrupted, `consumer position file '${path}' is damaged`, { path })
  return { next: Number(view.getBigUint64(8, true)), time: Number(view.getBigUint64(16, true)) }
}

/** Replaces consumer `name`'s position durably (temporary file, fdatasync, rename, folder fsync). */
export async function writePosition(dir: string, name: string, next: number): Promise<void> {
  const path = positionPath(dir, name)
  const temporary = `${path}.tmp`
  try {
    const handle = await open(temporary, 'w', 0o644)
    try {
      await handle.write(encode(next, Date.now()))
      await handle.datasync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw fromSystemError(error, temporary, 'write')
  }
  await renameDurably(temporary, path)
}

/** The names of the consumers that have a position file, sorted. */
export function consumerNames(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(join(dir, CONSUMERS_DIR))
  } catch {
    return []
  }
  return names
    .filter((name) => name.endsWith(SUFFIX))
    .map((name) => name.slice(0, -SUFFIX.length))
    .sort()
}
