/**
 * The benchmarks measure the library as it ships: the compiled `dist/` and the built addon,
 * not the TypeScript sources (the loader that runs `.ts` files names every closure it creates,
 * which costs on hot paths that create closures). Imported first by each benchmark, this stops
 * a run that would measure a build older than the sources.
 * @module
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function newest(dir: string, pattern: RegExp): number {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && pattern.test(entry.name)) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return latest
}

function builtAt(path: string): number {
  try {
    return statSync(join(root, path)).mtimeMs
  } catch {
    return 0
  }
}

const stale: string[] = []
if (newest(join(root, 'src'), /\.ts$/) > builtAt('dist/index.js')) stale.push('`npm run build:ts` (src/ is newer than dist/)')
if (newest(join(root, 'src', 'native'), /\.(cc|h)$/) > builtAt('build/Release/aofkit.node')) {
  stale.push('`npm run build` (the addon is older than src/native/)')
}
if (stale.length > 0) {
  process.stderr.write(`The benchmarks measure the built library. Run ${stale.join(' and ')} first.\n`)
  process.exit(2)
}
