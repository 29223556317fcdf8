/**
 * Child process of the concurrent-create test: on the line `go` on stdin, opens
 * `<dir>/race-<i>.aof` with create: true for i from 0 to count - 1, as fast as it can, keeping
 * each file it opened open (and locked); prints `<i> <ok or code>` per file, then `done`, and
 * exits when stdin closes.
 *
 *   node --import tsx test/helpers/race-creator.ts <dir> <count>
 */
import { join } from 'node:path'

import { Manager } from '../../src/index.ts'

const [dir, count] = process.argv.slice(2)
if (dir === undefined || count === undefined) {
  process.stderr.write('usage: race-creator <dir> <count>\n')
  process.exit(2)
}
const manager = new Manager({ flushIntervalMs: 0 })
process.stdin.setEncoding('utf8')
process.stdin.once('data', () => {
  const lines: string[] = []
  for (let i = 0; i < Number(count); i++) {
    try {
      manager.open(join(dir, `race-${i}.aof`), { create: true })
      lines.push(`${i} ok`)
    } catch (error) {
      lines.push(`${i} ${String((error as { code?: unknown }).code ?? error)}`)
    }
  }
  process.stdout.write(`${lines.join('\n')}\ndone\n`)
})
process.stdin.on('end', () => process.exit(0))
process.stdout.write('ready\n')
