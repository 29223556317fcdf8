/**
 * The kernel's tracefs, for the benchmarks that trace a reader's wake-ups with scheduler and
 * syscall tracepoints (wakeup-path.ts, wakeup-trace.ts). Needs root.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const TRACING = '/sys/kernel/tracing'

function tracefs(name: string, value: string): void {
  writeFileSync(join(TRACING, name), value)
}

/** Why tracing cannot run here ('' when it can). */
export function tracingUnavailable(): string {
  return process.getuid?.() === 0 && existsSync(join(TRACING, 'trace')) ? '' : `needs root and tracefs at ${TRACING}`
}

/** What to trace. */
export interface TraceOptions {
  /** Tracepoints, such as `sched:sched_wakeup`. */
  events: readonly string[]
  /** The trace buffer per CPU, KiB: large enough for the whole run. */
  bufferKb: number
  /** The trace clock (`mono` to compare with `process.hrtime`); the current one if not given. */
  clock?: string
  /** Only these processes; all if not given. */
  pids?: readonly number[]
}

/**
 * Runs `body` with `options`' tracepoints on; then, tracing off, hands `collect` the path of
 * the trace to read or copy, and puts tracefs back as it was.
 */
export async function traced<T>(options: TraceOptions, body: () => Promise<T>, collect: (tracePath: string) => void): Promise<T> {
  const bufferKb = readFileSync(join(TRACING, 'buffer_size_kb'), 'utf8').trim()
  const clock = /\[(\w+)\]/.exec(readFileSync(join(TRACING, 'trace_clock'), 'utf8'))?.[1] ?? 'local'
  tracefs('tracing_on', '0')
  tracefs('trace', '')
  if (options.clock !== undefined) tracefs('trace_clock', options.clock)
  tracefs('buffer_size_kb', String(options.bufferKb))
  if (options.pids !== undefined) tracefs('set_event_pid', options.pids.join(' '))
  tracefs('set_event', options.events.join(' '))
  tracefs('tracing_on', '1')
  try {
    return await body()
  } finally {
    tracefs('tracing_on', '0')
    collect(join(TRACING, 'trace'))
    tracefs('set_event', '')
    if (options.pids !== undefined) tracefs('set_event_pid', '')
    tracefs('trace', '')
    tracefs('trace_clock', clock)
    tracefs('buffer_size_kb', bufferKb)
  }
}
