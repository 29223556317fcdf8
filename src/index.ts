/**
 * aofkit: durable, very fast append-only logs for Node.js.
 * @module
 */

// Errors
export { AofkitError, ErrorCode, isAofkitError } from './errors.ts'
export type { AofkitErrorOptions } from './errors.ts'

// The append-only file
export { AppendOnlyFile } from './aof/append-only-file.ts'
export type { AppendEvent, AppendFunction } from './aof/append-only-file.ts'
export { FileState } from './aof/file-state.ts'
export { Geometry, GROWTH_STEP_DEFAULT, SIZE_NOW_DEFAULT, SIZE_UPPER_DEFAULT, SIZE_UPPER_MAX } from './aof/geometry.ts'
export type { GeometryOptions } from './aof/geometry.ts'
export { DEFAULT_MAGIC, MAGIC_CHECKPOINT, MAGIC_SIZE, MAGIC_TAIL } from './aof/magic.ts'
export type { Magic } from './aof/magic.ts'
export { RecoveryDefault, RecoveryReadOnly } from './aof/open-file.ts'
export type { OpenOptions, OpenRecovery, Recovery } from './aof/open-file.ts'
export { RecoveryKind, recoverWithMagic } from './aof/recovery.ts'
export type { RecoveryFunction, RecoveryResult } from './aof/recovery.ts'
export { Manager, defaultManager } from './aof/manager.ts'
export type { ManagerOptions } from './aof/manager.ts'
export { STATS_KEYS } from './aof/stats.ts'
export { readPublishedStats } from './aof/stats-file.ts'
export type { PublishedStats } from './aof/stats-file.ts'
export type { Stats } from './aof/stats.ts'
export { sidecarPath } from './aof/shm.ts'
export { Tailer, TailerState } from './aof/tailer.ts'
export { FileReader } from './aof/reader.ts'
export type { ReaderOptions } from './aof/reader.ts'
export type { ReaderWakeup } from './aof/wake-up.ts'
export type { Consumer, PollReason, ReadEvent, SubscribeOptions } from './aof/tailer.ts'
export type { TailOptions } from './aof/follow-data.ts'

// Record log
export { LogWriter } from './log/log-writer.ts'
export type { LogWriterOptions } from './log/log-writer.ts'
export { LogReader } from './log/log-reader.ts'
export type { LogReaderOptions } from './log/log-reader.ts'
export { rewind } from './log/rewind.ts'
export { MemorySink, FileSink, AppendOnlyFileSink } from './log/sinks.ts'
export type { LogSink, SinkFill, MemorySinkOptions, FileSinkOptions } from './log/sinks.ts'
export { MemorySource, FileSource, AppendOnlyFileSource, FileReaderSource } from './log/sources.ts'
export { tailLog } from './log/tail-log.ts'
export type { LogEntry, TailLogOptions } from './log/tail-log.ts'
export type { LogSource, FileSourceOptions } from './log/sources.ts'
export { BLOCK_SIZE, HEADER_SIZE, RecordType, aligned, encodedSize } from './log/format.ts'
export { checksumRange as logChecksum } from './log/checksum.ts'

// State log
export { ENTRY_HEADER_SIZE, EntryType, decodeStateEntry, encodeStateEntry } from './state/entry.ts'
export type { StateEntry } from './state/entry.ts'
export { UpdateReader, restore } from './state/restore.ts'
export type { RestoreSource, Restored } from './state/restore.ts'
export type { TailCut } from './state/recover.ts'
export { StateWriter } from './state/state-writer.ts'
export type { CompactPolicy, StateWriterOptions, StateWriterSinkOptions, SyncMode } from './state/state-writer.ts'
export { compactFile } from './state/compact.ts'
export type { CompactFileOptions } from './state/compact.ts'
export { compactionPath } from './state/compaction.ts'
export type { CompactResult } from './state/compaction.ts'
export { StateStore } from './state/state-store.ts'
export type { StateStoreOptions } from './state/state-store.ts'
