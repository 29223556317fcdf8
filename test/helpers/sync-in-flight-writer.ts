/**
 * Child process of the power loss test of a sync in flight: leaves its file as a sync() that
 * had written its record into the sidecar, but whose flush of the data had not completed, when
 * the power went.
 *
 *   node --import tsx test/helpers/sync-in-flight-writer.ts <path> lost|landed
 *
 * It writes records and syncs twice (the second sync writes its record before the data's
 * flush, as every sync after an open's first does), says `S<size>;` with the size the last
 * completed sync covered, writes more records, and then stores into the sidecar the record a
 * sync of all of it writes first: that size, the check of the data since the last sync, and
 * `syncedChecked` 1. The sidecar alone is fdatasynced: with `lost`, the data after the last sync
 * is still only in the page cache, and the power cut loses it; with `landed`, the data file is
 * fdatasynced too (the flush completed, the sync had not resolved yet). Then it says
 * `C<size>;` with the size the record claims, and waits for the cut.
 */
import { fdatasyncSync, openSync, readSync, writeSync } from 'node:fs'

import { AppendOnlyFile } from '../../src/index.ts'
import { SYNC_RECORD_OFFSET, SYNC_RECORD_SIZE, ShmOffset, sidecarPath } from '../../src/aof/shm.ts'
import { syncCheck } from '../../src/aof/sync-check.ts'
import { inFlightRecord } from './in-flight-records.ts'
import { writeStdoutSync as say } from './stdout.ts'

const [path, how] = process.argv.slice(2)
if (path === undefined || (how !== 'lost' && how !== 'landed')) {
  process.stderr.write('usage: sync-in-flight-writer <path> lost|landed\n')
  process.exit(2)
}

const file = AppendOnlyFile.open(path, { create: true })
let next = 0
const writeSome = (count: number): void => {
  for (let k = 0; k < count; k++) file.write(inFlightRecord(next++))
}
writeSome(300)
await file.sync()
writeSome(500)
await file.sync()
const synced = file.size
say(`S${synced};`)
writeSome(700)
const claimed = file.size

const record = new ArrayBuffer(SYNC_RECORD_SIZE)
const floats = new Float64Array(record)
const words = new Uint32Array(record)
const sidecar = openSync(sidecarPath(path), 'r+')
readSync(sidecar, new Uint8Array(record), 0, SYNC_RECORD_SIZE, SYNC_RECORD_OFFSET)
floats[(ShmOffset.syncedSize - SYNC_RECORD_OFFSET) / 8] = claimed
floats[(ShmOffset.syncedFrom - SYNC_RECORD_OFFSET) / 8] = synced
words[(ShmOffset.syncedCheck - SYNC_RECORD_OFFSET) / 4] = syncCheck(file.contents(), synced, claimed)
words[(ShmOffset.syncedChecked - SYNC_RECORD_OFFSET) / 4] = 1
writeSync(sidecar, new Uint8Array(record), 0, SYNC_RECORD_SIZE, SYNC_RECORD_OFFSET)
fdatasyncSync(sidecar)
if (how === 'landed') fdatasyncSync(openSync(path, 'r+'))
say(`C${claimed};`)
setInterval(() => undefined, 1000)
