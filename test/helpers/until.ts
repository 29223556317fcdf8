/**
 * Waiting for a condition in a test: polled every few milliseconds up to a deadline, then a
 * failure that says what was awaited. Never sleep-then-assert.
 */
import assert from 'node:assert/strict'

/** Resolves once `condition()` holds; fails the test when it still does not after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
