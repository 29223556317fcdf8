/**
 * Child process that writes to an append-only file steadily (512 bytes every 2 ms, a sync()
 * every 20 writes) and reads its whole mapping back through a clone of contents() each time,
 * until its stdin says "stop". Prints "ready" after its first write, then on stop one JSON line:
 * `{ writes, errors }` with the codes of the errors its writes and syncs met. A SIGBUS from a
 * page the file lost would end it with a signal instead.
 *
 *   node --import tsx test/helpers/steady-writer.ts <path>
 */
import { AppendOnlyFile } from '../../src/index.ts'

const path = process.argv[2]!
const file = AppendOnlyFile.open(path, { create: true, geometry: { sizeNow: 64 << 10, growthStep: 64 << 10, sizeUpper: 16 << 20 } })
const record = new Uint8Array(512).fill(0x5a)
const errors = new Set<string>()
let writes = 0
const codeOf = (error: unknown): string => String((error as { code?: unknown }).code ?? error)

const tick = (): void => {
  try {
    file.write(record)
    writes++
    // Every byte of the mapping, past the file's end too, as a clone posted elsewhere reads it.
    structuredClone(file.contents())
  } catch (error) {
    errors.add(codeOf(error))
  }
  if (writes % 20 === 0) file.sync().catch((error: unknown) => errors.add(codeOf(error)))
}
tick()
process.stdout.write('ready\n')
const timer = setInterval(tick, 2)
process.stdin.setEncoding('utf8')
process.stdin.on('data', (text: string) => {
  if (!text.includes('stop')) return
  clearInterval(timer)
  void file
    .sync()
    .catch((error: unknown) => errors.add(codeOf(error)))
    .then(() => file.close())
    .catch((error: unknown) => errors.add(codeOf(error)))
    .then(() => {
      process.stdout.write(`${JSON.stringify({ writes, errors: [...errors].sort() })}\n`)
      process.exit(0)
    })
})
