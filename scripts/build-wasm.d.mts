/** The XXH64 module's bytes, compiled from src/log/xxh64.wat. */
export function compileXxh64(): Promise<Buffer>
