/**
 * aofkit: durable, very fast append-only logs for Node.js.
 * @module
 */

// Errors
export { AofkitError, ErrorCode, isAofkitError } from './errors.ts'
export type { AofkitErrorOptions } from './errors.ts'
