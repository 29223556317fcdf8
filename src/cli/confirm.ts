/**
 * Asking before a command changes a file: one question on stderr, one line read from stdin.
 * @module
 */
import { createInterface } from 'node:readline'

import { streams, writeError } from './output.ts'

/** Asks `question` on stderr and reads one line from stdin: true for "y" or "yes"; false when stdin ends first. */
export async function confirm(question: string): Promise<boolean> {
  const lines = createInterface({ input: streams().stdin, terminal: false })
  writeError(question)
  const answer = await new Promise<string | null>((resolve) => {
    lines.once('line', resolve)
    lines.once('close', () => resolve(null))
  })
  lines.close()
  // A terminal echoed the answer and its newline; a pipe did not.
  if (answer === null || streams().stdin.isTTY !== true) writeError('\n')
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer)
}
