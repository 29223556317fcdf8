/**
 * What a torn write looks like: the bytes a crash leaves when it interrupts the append of one
 * record-log entry at a known offset. They are a prefix of that entry's encoding (padding
 * zeros, then records whose fields follow from the offset and whose complete records carry
 * good checksums), ending inside its last record — or zeros only, or a record whose end a
 * power loss left unwritten (zeros from a sector boundary to the end of the file). Repair cuts nothing else:
 * bytes that a torn write cannot explain are damage, or not a log at all, and are refused.
 * @module
 */
import { checksumRange } from '../log/checksum.ts'
import { BLOCK_SIZE, HEADER_SIZE, HeaderField, RecordType, blockOffset, paddingBefore, readU32, writeU64 } from '../log/format.ts'
import type { LogSource } from '../log/sources.ts'

/**
 * Why the bytes of `source` from `begin` to its end are not what a torn write leaves, or `null`
 * when they are (see the module notes).
 * @param source - The log.
 * @param begin - Where the interrupted append started: the end of the last complete entry.
 */
export function notATornWrite(source: LogSource, begin: number): string | null {
  const size = source.size
  if (begin >= size) return null
  const bytes = source.read(begin, size - begin).slice()
  if (bytes.every((byte) => byte === 0)) return null
  const padding = Math.min(paddingBefore(begin), bytes.length)
  for (let k = 0; k < padding; k++) {
    if (bytes[k] !== 0) return `a non-zero byte at offset ${begin + k}, in the padding before a block boundary`
  }
  const first = begin + padding
  const expected = new Uint8Array(8)
  for (let position = first, index = 0; position < size; index++) {
    const at = position - begin
    const present = Math.min(size - position, HEADER_SIZE)
    const capacity = BLOCK_SIZE - blockOffset(position) - HEADER_SIZE
    const where = `at offset ${position}`
    if (present > HeaderField.Type) {
      const type = bytes[at + HeaderField.Type] as number
      const allowed: readonly number[] = index === 0 ? [RecordType.Full, RecordType.First] : [RecordType.Middle, RecordType.Last]
      if (!allowed.includes(type)) return `a record of type ${type} ${where}, where an entry's ${index === 0 ? 'first' : 'next'} record would be`
    }
    let length = -1
    if (present > HeaderField.Length + 1) {
      length = (bytes[at + HeaderField.Length] as number) | ((bytes[at + HeaderField.Length + 1] as number) << 8)
      const type = bytes[at + HeaderField.Type]
      const spans = type === RecordType.First || type === RecordType.Middle
      if (spans ? length !== capacity : length === 0 || length > capacity) return `a record ${where} whose length ${length} does not fit its block`
    }
    writeU64(expected, 0, index === 0 ? 0 : position - first)
    for (let k = HeaderField.Offset; k < present; k++) {
      if (bytes[at + k] !== expected[k - HeaderField.Offset]) return `a record ${where} whose offset field does not match its position`
    }
    if (length < 0 || size - position < HEADER_SIZE + length) return null
    // A complete record: a torn write leaves it as it was written.
    if (checksumRange(bytes, at + HeaderField.Type, at + HEADER_SIZE + length) !== readU32(bytes, at)) {
      // A power loss can leave the file's last sectors unwritten: zeros from a sector boundary
      // to the end. A flipped bit cannot.
      if (zerosFromSectorToEnd(bytes, begin, at + HEADER_SIZE)) return null
      return `a complete record ${where} that fails its checksum`
    }
    const type = bytes[at + HeaderField.Type]
    if (type === RecordType.Full || type === RecordType.Last) return `a complete entry ending ${where}`
    position += HEADER_SIZE + length
  }
  return null
}

/** The size of a disk sector: the unit a power loss leaves written or not. */
const SECTOR_SIZE = 512

/**
 * True when the bytes from some sector boundary at or after index `from` to the end are zeros,
 * and at least one sector of them lies inside the record being checked.
 */
function zerosFromSectorToEnd(bytes: Uint8Array, begin: number, from: number): boolean {
  let last = bytes.length - 1
  while (last >= 0 && bytes[last] === 0) last--
  const zerosFrom = last + 1
  const boundary = Math.ceil((begin + Math.max(from, zerosFrom)) / SECTOR_SIZE) * SECTOR_SIZE - begin
  return zerosFrom <= boundary && boundary < bytes.length
}
