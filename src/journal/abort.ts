/**
 * The error a journal's waits end with when their signal aborts: an `AbortError`, as Node's
 * own APIs and the append-only file's followers throw.
 * @module
 */

/** An AbortError for `signal` (its reason, if that is one already, else one with it as cause). */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const error = new Error('The operation was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}
