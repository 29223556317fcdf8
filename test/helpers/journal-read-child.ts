/**
 * Reads a journal from its first entry in a process of its own and prints its entries'
 * `[position, time]` pairs as JSON, then exits: for a test whose reader might block for good
 * (the test kills it at a deadline instead of blocking itself).
 *
 *   node --import tsx test/helpers/journal-read-child.ts <dir>
 */
import { writeSync } from 'node:fs'

import { Journal } from '../../src/index.ts'

const reader = await Journal.openReader(process.argv[2]!)
const read = [...reader.read()].map((entry) => [entry.position, entry.time])
reader.close()
writeSync(1, `${JSON.stringify(read)}\n`)
