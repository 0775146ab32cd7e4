/**
 * The bytes that end frames, shared by the decoders: one instance of each, so that a frame costs
 * no allocation for its terminator.
 */
export const LF = 0x0a
export const CR = 0x0d

/** No terminator: a length-prefixed frame, or a raw read without a newline. */
export const none = new Uint8Array(0)
export const lf = new Uint8Array([LF])
export const crlf = new Uint8Array([CR, LF])
