/**
 * Child process of the torn-write crash tests: opens (creating) files, runs the given
 * operations on each, then kills itself with SIGKILL, so that every file and its sidecar are
 * left exactly as a writer killed between two operations leaves them.
 *
 *   node --import tsx test/helpers/killed-writer.ts '<json>'
 *
 * The JSON is an array of {"path": string, "ops": [{"write": "<hex>"} | {"checkpoint": true}]}.
 */
import { AppendOnlyFile } from '../../src/index.ts'

const [json] = process.argv.slice(2)
if (json === undefined) {
  process.stderr.write('usage: killed-writer <json>\n')
  process.exit(2)
}
const files = JSON.parse(json) as Array<{ path: string; ops: Array<{ write?: string; checkpoint?: boolean }> }>
// Keep every file open (and its lock held) until the kill.
const open: AppendOnlyFile[] = []
for (const { path, ops } of files) {
  const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeNow: 4096, growthStep: 4096, sizeUpper: 1 << 20 } })
  open.push(file)
  for (const op of ops) {
    if (op.write !== undefined) file.write(Buffer.from(op.write, 'hex'))
    else file.checkpoint()
  }
}
process.kill(process.pid, 'SIGKILL')
