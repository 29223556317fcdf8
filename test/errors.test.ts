// fromSystemError maps an errno to a code by the operation that failed: the same errno means a
// held lock from flock and a plain I/O failure from read, a read-only file when opening for
// writing and a missing read permission when opening for reading.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { AofkitError, ErrorCode, fromSystemError } from '../src/errors.ts'
import type { SystemOperation } from '../src/errors.ts'
import * as native from '../src/native/binding.ts'
import { tmpDir } from './helpers/tmp-dir.ts'

const OPERATIONS: SystemOperation[] = [
  'open', 'openForWrite', 'create', 'lock', 'stat', 'read', 'write', 'allocate', 'truncate', 'sync', 'flush', 'rename', 'chmod',
]

/** An error shaped as Node's and the addon's system errors are. */
function systemError(code: string, syscall = 'x'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall, errno: -1 })
}

/** The code each operation maps `errno` to. */
function codes(errno: string): Record<SystemOperation, string> {
  return Object.fromEntries(OPERATIONS.map((operation) => [operation, fromSystemError(systemError(errno), '/f', operation).code])) as Record<
    SystemOperation,
    string
  >
}

/** `code` for the operations listed, ERR_AOF_IO for every other. */
function only(code: ErrorCode, operations: SystemOperation[]): Record<SystemOperation, string> {
  return Object.fromEntries(OPERATIONS.map((operation) => [operation, operations.includes(operation) ? code : ErrorCode.Io])) as Record<
    SystemOperation,
    string
  >
}

test('EAGAIN and EWOULDBLOCK mean a held lock only from the lock operation', () => {
  assert.deepEqual(codes('EAGAIN'), only(ErrorCode.Locked, ['lock']))
  assert.deepEqual(codes('EWOULDBLOCK'), only(ErrorCode.Locked, ['lock']))
})

test('EACCES is a read-only file when opening for writing, a missing read permission when opening or reading', () => {
  assert.deepEqual(codes('EACCES'), {
    ...only(ErrorCode.ReadOnly, ['openForWrite', 'create']),
    open: ErrorCode.ReadPermission,
    read: ErrorCode.ReadPermission,
  })
  assert.deepEqual(codes('EPERM'), only(ErrorCode.ReadOnly, ['openForWrite', 'create']))
  assert.deepEqual(codes('EROFS'), only(ErrorCode.ReadOnly, ['openForWrite', 'create']))
})

test('ENOSPC and EDQUOT are no space only from calls that may need room', () => {
  const needRoom: SystemOperation[] = ['openForWrite', 'create', 'write', 'allocate', 'truncate', 'sync', 'flush', 'rename']
  assert.deepEqual(codes('ENOSPC'), only(ErrorCode.NoSpace, needRoom))
  assert.deepEqual(codes('EDQUOT'), only(ErrorCode.NoSpace, needRoom))
})

test('ENOENT and EISDIR are a missing file and a directory from calls that take a path', () => {
  const byPath: SystemOperation[] = ['open', 'openForWrite', 'create', 'stat', 'read', 'sync', 'rename']
  assert.deepEqual(codes('ENOENT'), only(ErrorCode.NotFound, byPath))
  assert.deepEqual(codes('EISDIR'), only(ErrorCode.IsDirectory, byPath))
})

test('any other errno, or none, is ERR_AOF_IO naming the operation and the original message', () => {
  assert.deepEqual(codes('EIO'), only(ErrorCode.Io, []))
  const error = fromSystemError(systemError('EIO', 'fdatasync'), '/data/x', 'sync')
  assert.equal(error.message, "sync failed '/data/x': EIO: failed, fdatasync")
  assert.equal(fromSystemError('plain', undefined, 'openForWrite').message, 'open for writing failed: plain')
  assert.equal(fromSystemError(null, undefined, 'read').code, ErrorCode.Io)
})

test('the original error is the cause, the path is kept, and an AofkitError passes through', () => {
  const cause = systemError('ENOSPC')
  const error = fromSystemError(cause, '/data/x', 'allocate')
  assert.ok(error instanceof AofkitError)
  assert.equal(error.cause, cause)
  assert.equal(error.path, '/data/x')
  assert.equal(fromSystemError(cause, undefined, 'allocate').path, undefined)
  assert.equal(fromSystemError(error, '/other', 'read'), error)
})

test('real errors: a held flock is ERR_AOF_LOCKED, EAGAIN from reading an empty non-blocking pipe is not', (t) => {
  const dir = tmpDir(t)
  const path = join(dir, 'file')
  const holder = openSync(path, 'w')
  const other = openSync(path, 'r')
  t.after(() => {
    closeSync(holder)
    closeSync(other)
  })
  native.flock(holder, native.lock.exclusive | native.lock.nonBlocking)
  let lockError: unknown
  try {
    native.flock(other, native.lock.exclusive | native.lock.nonBlocking)
  } catch (error) {
    lockError = error
  }
  assert.equal(fromSystemError(lockError, path, 'lock').code, ErrorCode.Locked)

  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  // Read-write, so that no writer is needed to open it and a read finds no data rather than EOF.
  const pipe = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK)
  t.after(() => closeSync(pipe))
  let readError: unknown
  try {
    readSync(pipe, Buffer.alloc(1))
  } catch (error) {
    readError = error
  }
  assert.equal((readError as NodeJS.ErrnoException).code, 'EAGAIN')
  assert.equal(fromSystemError(readError, fifo, 'read').code, ErrorCode.Io)
})
