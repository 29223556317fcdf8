/** The bytes journal tests append at each position: recognizable, of varying length. */
export function journalEntry(position: number, size = 20 + ((position * 37) % 300)): Uint8Array {
  const bytes = new Uint8Array(size)
  const label = new TextEncoder().encode(`#${position}:`)
  bytes.set(label.subarray(0, size))
  for (let k = label.length; k < size; k++) bytes[k] = (position * 31 + k) & 0xff
  return bytes
}

/** True when `data` is what {@link journalEntry} gives for `position` (any size). */
export function isJournalEntry(position: number, data: Uint8Array): boolean {
  const expected = journalEntry(position, data.length)
  return data.length > 0 && Buffer.compare(Buffer.from(expected), Buffer.from(data)) === 0 && data.length === 20 + ((position * 37) % 300)
}
