// Follows an append-only file whose check timer never fires, so that only the writer's poke can
// wake it, and echoes the size of each chunk on stdout ('ready' once it waits, 'end' at EOF).
// argv: path, 'direct' | 'fs-watch'. With 'fs-watch' it first uses up its file descriptors, so
// that the addon's inotify watch cannot get an instance and the reader falls back to fs.watch
// (whose instance exists already: libuv made it for the watch below).
import { openSync, watch } from 'node:fs'
import { dirname } from 'node:path'

import { AppendOnlyFile } from '../../src/index.ts'
import * as native from '../../src/native/binding.ts'

const [path, mode] = [process.argv[2]!, process.argv[3]!]
const reader = AppendOnlyFile.openReader(path, { checkIntervalMs: 3_600_000 })
const iterator = reader.tail()[Symbol.asyncIterator]()
if (mode === 'fs-watch') {
  const keep = watch(dirname(path), () => undefined)
  try {
    for (;;) openSync('/dev/null', 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error
  }
  let refused = false
  try {
    native.watchFile(path, () => undefined)?.close()
  } catch {
    refused = true
  }
  if (!refused) throw new Error('the addon still got an inotify instance: no fallback to test')
  keep.unref()
}
let next = iterator.next()
process.stdout.write('ready\n')
for (;;) {
  const step = await next
  if (step.done === true) break
  process.stdout.write(`${step.value.length}\n`)
  next = iterator.next()
}
process.stdout.write('end\n')
reader.close()
