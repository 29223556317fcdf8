// A sync() writes its record into the sidecar before the flush that makes its data durable
// (every sync after an open's first: docs/FORMAT.md, "After a power cut"), so a power cut can
// leave the record on the disk without the data. Recovery checks the data against the record:
// the file then ends where the last completed sync ended; when the data did reach the disk
// (the flush completed, the sync had not resolved), where the record says. A child leaves its
// file that way (sync-in-flight-writer.ts) on ext4 on a loop device, and the filesystem is
// shut down without flushing its journal (FS_IOC_SHUTDOWN, NOLOGFLUSH). Needs root and a loop
// device (skipped otherwise, with the reason).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { FileState, Manager } from '../../src/index.ts'
import { inFlightData } from '../helpers/in-flight-records.ts'
import { lastAcknowledged, powerLossDisk, runUntilPowerCut } from '../helpers/power-loss.ts'

describe('power loss during a sync() whose record reached the disk first', () => {
  for (const how of ['lost', 'landed'] as const) {
    const title =
      how === 'lost'
        ? 'its data lost: the file ends where the last completed sync ended'
        : 'its data on the disk too: the file ends where the record says'
    it(title, async (t) => {
      const disk = await powerLossDisk(t)
      if (disk === null) return
      const path = join(disk.dir, 'data.aof')
      const run = await runUntilPowerCut(disk, 'sync-in-flight-writer.ts', [path, how], { ready: 'C', delayMs: 0 })
      const synced = lastAcknowledged(run.stdout, 'S', -1)
      const claimed = lastAcknowledged(run.stdout, 'C', -1)
      assert.ok(synced > 0 && claimed > synced, `the child said ${JSON.stringify(run.stdout)}`)
      const manager = new Manager({ flushIntervalMs: 0 })
      try {
        const file = manager.open(path)
        assert.equal(file.state, FileState.Opened)
        assert.equal(file.size, how === 'lost' ? synced : claimed)
        assert.ok(Buffer.from(file.contents()).equals(inFlightData(file.size / 100)), 'the data is not the records written')
        await file.close()
      } finally {
        await manager.close()
      }
    })
  }
})
