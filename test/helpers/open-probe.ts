/**
 * Child process of the open tests: tries each way of opening the given path and prints one
 * line per way, `<way> <code or ok>`, then `done`. A way that blocks never prints its line, so
 * the test sees which one hung instead of hanging itself.
 *
 *   node --import tsx test/helpers/open-probe.ts <path> <way>...
 *
 * Ways: `write` (AppendOnlyFile.open), `read-only` (RecoveryReadOnly), `reader` (openReader),
 * `create` (open with create: true), `restore`, `state-writer` (StateWriter.open),
 * `compact` (compactFile), `salvage` (salvageFile).
 */
import { AppendOnlyFile, RecoveryReadOnly, StateWriter, compactFile, restore, salvageFile } from '../../src/index.ts'

const [path, ...ways] = process.argv.slice(2)
if (path === undefined) {
  process.stderr.write('usage: open-probe <path> <way>...\n')
  process.exit(2)
}

async function attempt(way: string): Promise<string> {
  try {
    switch (way) {
      case 'write':
        await AppendOnlyFile.open(path!).close()
        break
      case 'create':
        await AppendOnlyFile.open(path!, { create: true }).close()
        break
      case 'read-only':
        await AppendOnlyFile.open(path!, { recovery: RecoveryReadOnly }).close()
        break
      case 'reader':
        AppendOnlyFile.openReader(path!).close()
        break
      case 'restore':
        restore(path!)
        break
      case 'state-writer':
        await (await StateWriter.open(path!)).close()
        break
      case 'compact':
        await compactFile(path!)
        break
      case 'salvage':
        await salvageFile(path!)
        break
      default:
        return `unknown way ${way}`
    }
    return 'ok'
  } catch (error) {
    return String((error as { code?: unknown }).code ?? error)
  }
}

for (const way of ways) process.stdout.write(`${way} ${await attempt(way)}\n`)
process.stdout.write('done\n')
