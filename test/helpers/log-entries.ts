/**
 * The deterministic entries the live record log tests write and check: entry `index` has a
 * size between 4 and 299 bytes, every 500th one 70 KiB (several records), and bytes derived
 * from its index (which its first four bytes hold), so a follower can check each entry it sees.
 */
export function logEntry(index: number): Uint8Array {
  const size = index % 500 === 499 ? 70 * 1024 : 4 + ((index * 7919) % 296)
  const entry = new Uint8Array(size)
  for (let at = 4; at < size; at++) entry[at] = (index + at * 31) & 0xff
  new DataView(entry.buffer).setUint32(0, index, true)
  return entry
}
