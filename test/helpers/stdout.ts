import { writeSync } from 'node:fs'

/**
 * Writes to stdout synchronously, so an acknowledgement is out before the next operation.
 * stdout is a non-blocking pipe: on EAGAIN, retry until the parent has drained it.
 */
export function writeStdoutSync(text: string): void {
  for (;;) {
    try {
      writeSync(1, text)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
    }
  }
}
