/**
 * How an open {@link AppendOnlyFile} ends. `finish()` seals it: a MagicCheckpoint after the
 * data, the file cut to it, made durable and read-only, and the EOF state published for
 * readers. `close()` waits for the work in flight, then gives back what the file holds: its
 * sidecar (marked closed, readers woken a last time), its mapping and its descriptor.
 * @module
 */
import { closeSync } from 'node:fs'

import * as native from '../native/binding.ts'
import type { Durability } from './durability.ts'
import { FileState } from './file-state.ts'
import type { Growth } from './growth.ts'
import type { Sidecar } from './shm.ts'
import { Operation } from './stats.ts'
import type { StatsRecorder } from './stats.ts'
import type { WriterWakeups } from './wake-up.ts'
import type { WritePath } from './write-path.ts'

/** @internal What an open file holds, as its end needs it. */
export interface FileHoldings {
  readonly anonymous: boolean
  readonly fd: number
  readonly mapping: ArrayBuffer | SharedArrayBuffer
  readonly mappedBytes: number
  readonly sidecar: Sidecar | null
  readonly data: WritePath
  readonly growth: Growth
  readonly durability: Durability
  readonly wakeups: WriterWakeups
  readonly stats: StatsRecorder
}

/**
 * @internal Seals the file (see the module). Followers are woken once the returned promise
 * settles, by the caller.
 * @param readMode - The mode a finished file gets (the manager's `readMode`).
 */
export async function sealFinished(file: FileHoldings, readMode: number): Promise<void> {
  await file.growth.stop()
  const end = file.data.sealWithCheckpoint()
  if (file.anonymous) return
  file.durability.truncate(end)
  file.growth.truncatedTo(end)
  await file.durability.sealReadOnly(readMode)
  const sidecar = file.sidecar
  if (sidecar !== null) {
    sidecar.setAllocatedSize(end)
    // Readers are woken once finish() settles (WriterWakeups.wakeFollowers).
    sidecar.setFileState(FileState.EOF)
  }
}

/**
 * @internal Closes the file's tailers, waits for a finish, growth, syncs and flushes in flight,
 * then releases the sidecar, the mapping and the descriptor.
 */
export async function closeHoldings(file: FileHoldings, finishing: Promise<void> | null): Promise<void> {
  const growthStopped = file.growth.stop()
  for (const tailer of [...file.wakeups.tailers]) tailer.close('file closed')
  file.wakeups.wakeFollowers()
  await finishing?.catch(() => undefined)
  await growthStopped
  await file.durability.syncsIdle()
  await file.durability.flushIdle()
  const stats = file.stats
  const sidecar = file.sidecar
  if (sidecar !== null) {
    sidecar.setWriterPid(0)
    // A finished file stays EOF for readers opened later; Closed says it may be written again.
    if (sidecar.fileState() !== FileState.EOF) sidecar.setFileState(FileState.Closed)
    file.wakeups.detachSidecar()
    sidecar.close()
  }
  if (!file.anonymous) {
    stats.time(Operation.unmap, () => native.unmap(file.mapping as ArrayBuffer))
    closeSync(file.fd)
    stats.add('activeMappedMemory', -file.mappedBytes)
    stats.add('activeFileSize', -file.growth.allocated)
  } else {
    stats.add('activeAnonymousMemory', -file.mappedBytes)
  }
  stats.add('activeMaps', -1)
  file.data.release()
}
