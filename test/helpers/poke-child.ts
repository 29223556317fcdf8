// Follows an append-only file and echoes the size of each chunk on stdout ('ready' and how it
// waits, once it does; 'end' at EOF). argv: path, mode:
// - 'direct': the check timer never fires, so only the writer's poke can wake the reader;
// - 'fs-watch': the same, after using up the process's file descriptors, so that the addon's
//   inotify watch cannot get an instance and the reader falls back to fs.watch (whose instance
//   exists already: libuv made it for the watch below);
// - 'timer': descriptors used up before any watch, so that neither can be made; the reader
//   finds new data by its check timer alone (every 50 ms).
import { openSync, watch } from 'node:fs'
import { dirname } from 'node:path'

import { AppendOnlyFile } from '../../src/index.ts'
import * as native from '../../src/native/binding.ts'

const [path, mode] = [process.argv[2]!, process.argv[3]!]
const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: mode === 'timer' ? 50 : 3_600_000 })
const iterator = reader.tail()[Symbol.asyncIterator]()
if (mode !== 'direct') {
  const keep = mode === 'fs-watch' ? watch(dirname(path), () => undefined) : null
  try {
    for (;;) openSync('/dev/null', 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error
  }
  const refused = (make: () => { close(): void } | null): boolean => {
    try {
      make()?.close()
      return false
    } catch {
      return true
    }
  }
  if (!refused(() => native.watchFile(path, () => undefined))) throw new Error('the addon still got an inotify instance')
  if (mode === 'timer' && !refused(() => watch(path))) throw new Error('fs.watch still got an inotify instance')
  keep?.unref()
}
let next = iterator.next()
process.stdout.write(`ready ${reader.wakeup}\n`)
for (;;) {
  const step = await next
  if (step.done === true) break
  process.stdout.write(`${step.value.length}\n`)
  next = iterator.next()
}
process.stdout.write('end\n')
reader.close()
