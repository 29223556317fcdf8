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
export type { Stats } from './aof/stats.ts'
export { sidecarPath } from './aof/shm.ts'
