import type { Command } from 'commander'

/** Registers `aof stats`. */
export function register(_program: Command, _done: (code: number) => void): void {}
