// The addon under worker threads and the garbage collector: a worker terminated while a native
// call of its open file is in flight (growth, prefault, sync) must not end the process; a worker
// that exits with live mappings, and a file collected unclosed, leave nothing mapped.
// AOFKIT_SOAK=1 terminates many more workers.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

import { ROOT, spawnHelper } from '../helpers/child.ts'
import { tmpDir } from '../helpers/tmp-dir.ts'

const SOAK = process.env['AOFKIT_SOAK'] === '1'

/** How many regions of this process map `path` (from /proc/self/maps). */
function regionsOf(path: string): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${path}`)).length
}

test('terminating workers with a native call in flight leaves the process running', { timeout: SOAK ? 1_800_000 : 120_000 }, async (t) => {
  const dir = tmpDir(t)
  const iterations = SOAK ? 600 : 30
  const seed = Date.now() % 100_000
  const child = spawnHelper('terminate-workers.ts', [dir, String(iterations), String(seed)])
  const { code, signal } = await child.exited
  assert.equal(signal, null, `seed ${seed}: ${child.stderr()}`)
  assert.equal(code, 0, `seed ${seed}: ${child.stderr()}`)
  assert.equal(child.stdout(), 'survived\n')
})

test('a worker that exits with open files and readers leaves nothing mapped', async (t) => {
  const path = join(tmpDir(t), 'f')
  const index = pathToFileURL(join(ROOT, 'src', 'index.ts')).href
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads')
     import(workerData.tsx).then(({ register }) => {
       register()
       return import(workerData.index)
     }).then(({ AppendOnlyFile }) => {
       const file = AppendOnlyFile.open(workerData.path, { create: true })
       file.write(new Uint8Array(100))
       const reader = AppendOnlyFile.openReader(workerData.path)
       void reader.tail()[Symbol.asyncIterator]().next()
       void file.sync()
       parentPort.postMessage('open')
       process.exit(0)
     })`,
    { eval: true, workerData: { path, index, tsx: import.meta.resolve('tsx/esm/api') } },
  )
  const messages: string[] = []
  worker.on('message', (message: string) => messages.push(message))
  const exitCode = await new Promise<number>((resolve) => worker.once('exit', resolve))
  assert.equal(exitCode, 0)
  assert.deepEqual(messages, ['open'])
  assert.equal(regionsOf(path), 0, 'the data file is unmapped')
  assert.equal(regionsOf(`${path}-shm`), 0, 'the sidecar is unmapped, by the writer and the reader')
})

test('a file collected unclosed is unmapped', (t) => {
  const path = join(tmpDir(t), 'f')
  const index = JSON.stringify(pathToFileURL(join(ROOT, 'src', 'index.ts')).href)
  const source = `
    import { readFileSync } from 'node:fs'
    import { AppendOnlyFile } from ${index}
    const path = ${JSON.stringify(path)}
    const regions = (p) => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith(' ' + p)).length
    function openAndDrop() {
      const file = AppendOnlyFile.open(path, { create: true, geometry: { growthStep: 4 << 20 } })
      file.write(new Uint8Array(3 << 20)) // grows, with a prefault in flight
      const reader = AppendOnlyFile.openReader(path)
      return regions(path) + regions(path + '-shm') > 0 && reader.size >= 0
    }
    if (!openAndDrop()) throw new Error('nothing was mapped')
    const deadline = Date.now() + 20000
    while (regions(path) + regions(path + '-shm') > 0) {
      if (Date.now() > deadline) throw new Error('still mapped: ' + regions(path) + ' ' + regions(path + '-shm'))
      globalThis.gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    process.stdout.write('unmapped\\n')
  `
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', source], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(result.status, 0, result.stderr)
  assert.equal(result.stdout, 'unmapped\n')
})
