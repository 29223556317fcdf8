/**
 * Child process that opens a file as its writer and holds it until told to go: writes "R" on
 * stdout once open, then closes the file and exits when its stdin ends (or when killed).
 *
 *   node --import tsx test/helpers/holder.ts <path>
 */
import { AppendOnlyFile } from '../../src/index.ts'

const [path] = process.argv.slice(2)
if (path === undefined) {
  process.stderr.write('usage: holder <path>\n')
  process.exit(2)
}
const file = AppendOnlyFile.open(path, { create: true })
file.write(Buffer.from('held'))
process.stdout.write('R')
process.stdin.resume()
process.stdin.on('end', () => {
  void file.close().then(() => process.exit(0))
})
