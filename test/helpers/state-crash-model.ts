/** The state the state log crash test's child keeps, and what it must be after n updates. */

/** The child's state: how many updates, and a hash of them in order. */
export interface CrashState {
  n: number
  h: number
}

/** One update: its index and padding of a size fixed by the index. */
export interface CrashUpdate {
  i: number
  pad: string
}

export const CRASH_INITIAL: CrashState = { n: 0, h: 17 }

/** Padding size of update `i`: mostly small, every 23rd spans two or more blocks. */
export function padSize(i: number): number {
  if (i % 23 === 7) return 40_000 + ((i * 7919) % 30_000)
  return (i * 2654435761) % 1500
}

/** Applies an update; throws if updates arrive out of order or with the wrong payload. */
export function crashApply(state: CrashState, update: CrashUpdate): CrashState {
  if (update.i !== state.n || update.pad.length !== padSize(update.i)) {
    throw new Error(`update ${update.i} (pad ${update.pad.length}) applied to state after ${state.n}`)
  }
  return { n: state.n + 1, h: (Math.imul(state.h, 31) + update.i + update.pad.length) >>> 0 }
}

/** The state after the first `n` updates. */
export function crashModel(n: number): CrashState {
  let state = CRASH_INITIAL
  for (let i = 0; i < n; i++) state = crashApply(state, { i, pad: 'x'.repeat(padSize(i)) })
  return state
}
