// Runs every ```js example of README.md against the sources, checking what each prints
// against the `// value` comments on its console.log lines. An example's temporary files go to
// a directory of the test's own (TMPDIR), removed after it, not to the system's.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!)

/** The values an example promises, from `console.log(...) // values` comments, in order. */
function expectedOutput(source: string): string[] {
  return [...source.matchAll(/console\.log\(.*\)\s*\/\/\s*(.*)$/gm)].map((match) => {
    const comment = match[1]!.split(':')[0]!.trim()
    return comment.replace(/^'(.*)'$/, '$1')
  })
}

test('README has examples', () => {
  assert.ok(examples.length >= 3)
})

examples.forEach((source, index) => {
  test(`README example ${index + 1} runs and prints what it says`, (t) => {
    const dir = mkdtempSync(join(root, 'node_modules', '.readme-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const script = join(dir, `example-${index + 1}.mts`)
    writeFileSync(script, source.replaceAll("from 'aofkit'", `from '${join(root, 'src', 'index.ts')}'`))
    const temporary = join(dir, 'tmp')
    mkdirSync(temporary)
    const before = new Set(readdirSync(tmpdir()))
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      cwd: root,
      env: { ...process.env, TMPDIR: temporary },
    })
    assert.equal(result.status, 0, result.stderr)
    const left = readdirSync(tmpdir()).filter((name) => name.startsWith('example-') && !before.has(name))
    assert.deepEqual(left, [], 'the example left files in the system temporary directory')
    const printed = result.stdout.trim().split('\n')
    assert.deepEqual(printed, expectedOutput(source))
  })
})
