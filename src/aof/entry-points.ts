/**
 * The entry points behind the static `AppendOnlyFile.open` and `AppendOnlyFile.openReader`.
 * @module
 */
import type { OpenOptions } from './open-file.ts'
import type { FileReader, ReaderOptions } from './reader.ts'
import type { AppendOnlyFile } from './writer.ts'

/**
 * The entry points behind {@link AppendOnlyFile.open} and {@link AppendOnlyFile.openReader}:
 * the default manager (which imports the writer) and the reader, installed by the public module
 * `append-only-file.ts` as it loads, so that the writer imports neither.
 */
interface EntryPoints {
  open(path: string, options: OpenOptions): AppendOnlyFile
  openReader(path: string, options: ReaderOptions): FileReader
}

let entryPoints: EntryPoints | null = null

/** @internal Installs what AppendOnlyFile's static methods call. */
export function installEntryPoints(installed: EntryPoints): void {
  entryPoints = installed
}

/** What AppendOnlyFile's static methods call. */
export function entry(): EntryPoints {
  if (entryPoints === null) throw new Error('aofkit: import AppendOnlyFile from the package, not from its writer module')
  return entryPoints
}
