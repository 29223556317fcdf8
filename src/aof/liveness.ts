/**
 * Whether a data file's writer is alive, judged by a lock it holds rather than by its pid: a
 * pid means another process, or none, in another PID namespace (containers sharing a volume),
 * while a lock lives exactly as long as the writer's open file. The writer takes an open file
 * description lock (F_OFD_SETLK) on one byte far past any data; a reader asks whether it is
 * held (F_OFD_GETLK), which takes nothing and so never gets in a writer's way. Where the system
 * has no such locks (not Linux), the pid is asked, as before.
 * @module
 */
import * as native from '../native/binding.ts'

/** The byte of the data file the writer's liveness lock covers: past any file a mapping can hold. */
const LIVE_BYTE = 2 ** 52

function unsupported(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOSYS'
}

/** Marks the writer of `fd` (open read-write) alive until the descriptor is closed. */
export function holdWriterLock(fd: number): void {
  try {
    native.ofdLock(fd, LIVE_BYTE, 1, native.lock.write)
  } catch (error) {
    // Without OFD locks readers ask the pid instead; any other failure means another writer
    // holds the byte, which its flock has already refused.
    if (!unsupported(error)) throw error
  }
}

/** Lets readers see the writer of `fd` as gone (a finished file: nothing more will come). */
export function releaseWriterLock(fd: number): void {
  try {
    native.ofdLock(fd, LIVE_BYTE, 1, native.lock.release)
  } catch {
    // Closing the descriptor releases it anyway.
  }
}

/** Whether process `pid` exists; 0 and below never do. For systems without OFD locks. */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether a writer holds the data file open as `fd` (any descriptor of it, even read-only).
 * `pid` is the sidecar's writerPid, asked only where the system has no OFD locks.
 */
export function writerHolds(fd: number, pid: number): boolean {
  try {
    return native.ofdLockHeld(fd, LIVE_BYTE, 1, native.lock.write)
  } catch (error) {
    if (unsupported(error)) return processAlive(pid)
    throw error
  }
}
