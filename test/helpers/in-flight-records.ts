/** The records test/helpers/sync-in-flight-writer.ts writes, for the test that reads them back. */

/** Record `i`: 100 bytes, none of them zero (so that data lost reads differently). */
export function inFlightRecord(i: number): Uint8Array {
  return Uint8Array.from({ length: 100 }, (_, k) => ((i * 31 + k * 7) % 255) + 1)
}

/** The first `count` records, one after another. */
export function inFlightData(count: number): Uint8Array {
  const data = new Uint8Array(count * 100)
  for (let i = 0; i < count; i++) data.set(inFlightRecord(i), i * 100)
  return data
}
