/** The life cycle of an append-only file (the Go `aof` package's FileState, with its numbers). */
export const FileState = {
  /** Being opened and recovered. */
  Opening: 0,
  /** Open for appends. */
  Opened: 1,
  /** Finished or read-only: readable, never written again. */
  EOF: 2,
  /** close() has begun; waiting for background work to end. */
  Closing: 3,
  /**
   * Closed: every further call throws `ERR_AOF_CLOSED`. For a `FileReader`: its writer
   * closed the file without finishing it (it may be written again), or the reader was closed.
   */
  Closed: 4,
} as const

/** One of the {@link FileState} values. */
export type FileState = (typeof FileState)[keyof typeof FileState]
