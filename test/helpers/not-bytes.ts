// Values a writer of bytes must refuse with nothing written, the hard ones included: Proxies
// that pass `instanceof Uint8Array` and answer a length.

/** A fresh list (each call makes its own Proxies). */
export function notBytes(): unknown[] {
  return [
    'hello',
    '',
    [1, 2, 3],
    { length: 5 },
    { length: 1e6, 0: 1 },
    new ArrayBuffer(8),
    new DataView(new ArrayBuffer(8)),
    new Float64Array(4),
    new Uint16Array(4),
    5,
    null,
    undefined,
    Symbol('entry'),
    // Bytes that cannot be read.
    new Proxy(new Uint8Array(3), {
      get: (target, key) => {
        if (key === 'length') return 3
        if (typeof key === 'string' && /^\d+$/.test(key)) throw new Error('unreadable')
        return Reflect.get(target, key) as unknown
      },
    }),
    // A length of 70,000: a record log entry written in pieces, a journal entry larger than a
    // small segment (a roll).
    new Proxy(new Uint8Array(3), { get: (target, key) => (key === 'length' ? 70_000 : (Reflect.get(target, key) as unknown)) }),
  ]
}
