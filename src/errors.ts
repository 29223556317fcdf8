/**
 * One error class for everything aofkit throws, with a stable `code` per failure.
 * Match on `code`, never on `message`: messages may be reworded, codes will not change.
 * @module
 */

/** Every error code aofkit uses. Each is documented in docs/ERRORS.md. */
export const ErrorCode = {
  // The errors of the Go `aof` package.
  /** The file may not shrink below its current size (the Go package's ErrShrink). */
  Shrink: 'ERR_AOF_SHRINK',
  /** The path is a directory (ErrIsDirectory). */
  IsDirectory: 'ERR_AOF_IS_DIRECTORY',
  /** Recovery found neither a tail nor a checkpoint it can trust (ErrCorrupted). */
  Corrupted: 'ERR_AOF_CORRUPTED',
  /** An empty file was opened in the EOF state (ErrEmptyFile). */
  EmptyFile: 'ERR_AOF_EMPTY_FILE',
  /** A write was attempted on a read-only or finished file (ErrFileIsReadOnly). */
  ReadOnly: 'ERR_AOF_READ_ONLY',
  /** The file's mode bits deny reading (ErrReadPermission). */
  ReadPermission: 'ERR_AOF_READ_PERMISSION',
  /** append() was called without a function (ErrAppendFuncNil). */
  AppendFuncMissing: 'ERR_AOF_APPEND_FUNC_MISSING',
  /** A non-blocking call would have to grow the file first (ErrWouldBlock). */
  WouldBlock: 'ERR_AOF_WOULD_BLOCK',
  // Ours.
  /** The file (or reader, or manager) is closed. */
  Closed: 'ERR_AOF_CLOSED',
  /** The write does not fit below the geometry's `sizeUpper`. */
  Full: 'ERR_AOF_FULL',
  /** The file system has no space left for the growth the write needs. */
  NoSpace: 'ERR_AOF_NO_SPACE',
  /** Another writer holds the file's exclusive lock. */
  Locked: 'ERR_AOF_LOCKED',
  /** The file does not exist and `create` was not set. */
  NotFound: 'ERR_AOF_NOT_FOUND',
  /** An argument has the wrong type or value; nothing was done. */
  InvalidArgument: 'ERR_AOF_INVALID_ARGUMENT',
  /** A reader's writer process is gone while the file was still open for writing. */
  WriterDied: 'ERR_AOF_WRITER_DIED',
  /** A reader's writer closed the file without finishing it, and the reader does not wait for the next writer. */
  WriterClosed: 'ERR_AOF_WRITER_CLOSED',
  /** The file a reader follows was truncated, replaced or deleted under it. */
  Replaced: 'ERR_AOF_REPLACED',
  /** `<file>-shm` is not a sidecar aofkit may use: a link, a FIFO, another user's file. */
  BadSidecar: 'ERR_AOF_BAD_SIDECAR',
  /** The path is not a regular file (a FIFO, a device, a socket). */
  NotRegularFile: 'ERR_AOF_NOT_REGULAR_FILE',
  /** An operating-system call failed in a way none of the codes above describes. */
  Io: 'ERR_AOF_IO',
  /** The native addon cannot be loaded: another platform, or no prebuilt binary fits and none was compiled. */
  AddonUnavailable: 'ERR_AOF_ADDON_UNAVAILABLE',
  // The record log (logio).
  /** A record failed its checksum or framing check; the next read resyncs at the next block. */
  LogCorrupted: 'ERR_LOG_CORRUPTED',
  /** The log ends inside an entry. */
  LogUnexpectedEof: 'ERR_LOG_UNEXPECTED_EOF',
  // The state log (stateio).
  /** A state entry is malformed (grailbio's stateio.ErrCorrupt). */
  StateCorrupt: 'ERR_STATE_CORRUPT',
  /** The application's `deserialize` or `apply` failed on an entry of the log while a store opened. */
  StateEntryRejected: 'ERR_STATE_ENTRY_REJECTED',
  // The journal.
  /** The entry a journal reader or consumer needs next was deleted by retention. */
  JournalTruncated: 'ERR_JOURNAL_TRUNCATED',
  /** The directory is not a journal (and `create` was not set), or its files do not fit together. */
  NotAJournal: 'ERR_JOURNAL_NOT_A_JOURNAL',
  /** A position lies beyond the journal's end. */
  JournalOutOfRange: 'ERR_JOURNAL_OUT_OF_RANGE',
} as const

/** The union of every error code. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Options accepted by the {@link AofkitError} constructor. */
export interface AofkitErrorOptions {
  /** The underlying error (a Node SystemError, for instance). */
  cause?: unknown
  /** The file the failure concerns, if any. */
  path?: string
}

/** The single error class aofkit throws. `code` is stable; `cause` keeps the raw error. */
export class AofkitError extends Error {
  /** A stable identifier of the failure, for example `ERR_AOF_FULL`. */
  readonly code: ErrorCode
  /** The file concerned, when there is one. */
  readonly path: string | undefined

  constructor(code: ErrorCode, message: string, options: AofkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AofkitError'
    this.code = code
    this.path = options.path
  }
}

/** True when `error` is an {@link AofkitError}, optionally with the given code. */
export function isAofkitError(error: unknown, code?: ErrorCode): error is AofkitError {
  return error instanceof AofkitError && (code === undefined || error.code === code)
}

/**
 * What a failed system call was doing. The same errno means different things in different calls
 * (EAGAIN is a held lock only from `flock`; EACCES is a read-only file only when opening it for
 * writing), so every caller of {@link fromSystemError} names its operation.
 */
export type SystemOperation =
  | 'open'
  | 'openForWrite'
  | 'create'
  | 'lock'
  | 'stat'
  | 'read'
  | 'write'
  | 'allocate'
  | 'truncate'
  | 'sync'
  | 'flush'
  | 'rename'
  | 'chmod'

/** How each operation is named in messages. */
const OPERATION_NAME: Readonly<Record<SystemOperation, string>> = {
  open: 'open',
  openForWrite: 'open for writing',
  create: 'create',
  lock: 'lock',
  stat: 'stat',
  read: 'read',
  write: 'write',
  allocate: 'allocate',
  truncate: 'truncate',
  sync: 'sync',
  flush: 'flush',
  rename: 'rename',
  chmod: 'chmod',
}

type ErrnoTable = Readonly<Partial<Record<string, ErrorCode>>>

/** Errnos that mean the same in every call that takes a path. */
const ANY_OPERATION: ErrnoTable = { ENOENT: ErrorCode.NotFound, EISDIR: ErrorCode.IsDirectory }
/** Errnos of opening a path that say what is there is no file: a socket, a device without a driver. */
const NOT_A_FILE: ErrnoTable = { ENXIO: ErrorCode.NotRegularFile, ENODEV: ErrorCode.NotRegularFile }
/** Errnos of calls that may need room on the file system. */
const NEEDS_SPACE: ErrnoTable = { ENOSPC: ErrorCode.NoSpace, EDQUOT: ErrorCode.NoSpace }
/** Errnos of opening for writing that say the file may not be written. */
const WRITE_DENIED: ErrnoTable = { EACCES: ErrorCode.ReadOnly, EPERM: ErrorCode.ReadOnly, EROFS: ErrorCode.ReadOnly }

/** The code each errno maps to, per operation; an errno not listed for its operation is ERR_AOF_IO. */
const ERRNO_CODES: Readonly<Record<SystemOperation, ErrnoTable>> = {
  open: { ...ANY_OPERATION, ...NOT_A_FILE, EACCES: ErrorCode.ReadPermission },
  openForWrite: { ...ANY_OPERATION, ...NOT_A_FILE, ...WRITE_DENIED, ...NEEDS_SPACE },
  create: { ...ANY_OPERATION, ...NOT_A_FILE, ...WRITE_DENIED, ...NEEDS_SPACE },
  lock: { EWOULDBLOCK: ErrorCode.Locked, EAGAIN: ErrorCode.Locked },
  stat: ANY_OPERATION,
  // A read by path (readFileSync) opens the file first.
  read: { ...ANY_OPERATION, EACCES: ErrorCode.ReadPermission },
  write: NEEDS_SPACE,
  allocate: NEEDS_SPACE,
  truncate: NEEDS_SPACE,
  sync: { ...ANY_OPERATION, ...NEEDS_SPACE },
  flush: NEEDS_SPACE,
  rename: { ...ANY_OPERATION, ...NEEDS_SPACE },
  chmod: {},
}

/** The shape of the errors Node and our addon throw for a failed syscall. */
interface SystemErrorLike {
  code?: unknown
  message?: unknown
}

/**
 * Maps an operating-system error from `operation` to an {@link AofkitError} with a stable code
 * (by the table above), keeping the original as `cause`. Errors that are already
 * AofkitErrors pass through unchanged.
 */
export function fromSystemError(error: unknown, path: string | undefined, operation: SystemOperation): AofkitError {
  if (error instanceof AofkitError) return error
  const system = (error ?? {}) as SystemErrorLike
  const errno = typeof system.code === 'string' ? system.code : ''
  const where = path === undefined ? '' : ` '${path}'`
  const doing = OPERATION_NAME[operation]
  const options: AofkitErrorOptions = path === undefined ? { cause: error } : { cause: error, path }
  const code = ERRNO_CODES[operation][errno] ?? ErrorCode.Io
  switch (code) {
    case ErrorCode.NoSpace:
      return new AofkitError(code, `no space left on device for${where} (${doing})`, options)
    case ErrorCode.NotFound:
      return new AofkitError(code, `no such file${where}`, options)
    case ErrorCode.IsDirectory:
      return new AofkitError(code, `path${where} is a directory`, options)
    case ErrorCode.Locked:
      return new AofkitError(code, `file${where} is locked by another writer`, options)
    case ErrorCode.ReadOnly:
      return new AofkitError(code, `file${where} cannot be written (${errno})`, options)
    case ErrorCode.ReadPermission:
      return new AofkitError(code, `file${where} cannot be read (${errno})`, options)
    case ErrorCode.NotRegularFile:
      return new AofkitError(code, `path${where} is not a regular file (a FIFO, device or socket: ${errno})`, options)
    default: {
      const message = typeof system.message === 'string' ? system.message : String(error)
      return new AofkitError(ErrorCode.Io, `${doing} failed${where}: ${message}`, options)
    }
  }
}

/**
 * The error a wait ends with when its `signal` aborts (a tail, a follow, a wait for a change):
 * the signal's reason when that is an AbortError already, else an `AbortError` with the reason
 * as `cause`, as Node's own APIs throw. Not an {@link AofkitError}: nothing failed.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new Error('The operation was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}
