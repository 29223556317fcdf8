/**
 * AppendOnlyFile: a single-writer, memory-mapped append-only file (the Go `aof` package's AOF), with its
 * static entry points. The class lives in `writer.ts`; this module gives its static `open`
 * and `openReader` the default manager and the reader, which the writer does not import.
 * @module
 */
import { defaultManager } from './manager.ts'
import { FileReader } from './reader.ts'
import { installEntryPoints } from './entry-points.ts'
import { AppendOnlyFile } from './writer.ts'

installEntryPoints({
  open: (path, options) => defaultManager().open(path, options),
  openReader: (path, options) => FileReader.open(path, options),
})

export { AppendOnlyFile }
export type { AppendEvent, AppendFunction } from './append-event.ts'
