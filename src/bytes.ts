/**
 * Byte helpers for protocols that pass bytes through unchanged (no text decoding on the way).
 */
const encoder = new TextEncoder()

/** The UTF-8 bytes of a string. */
export const utf8 = (text: string): Uint8Array => encoder.encode(text)

/** `a ++ b ++ ...` in one allocation. */
export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts)

/** Byte-wise equality. */
export const equals = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

/** Bytes as latin1 text, one character per byte (protocol heads, byte-exact). */
export const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")
