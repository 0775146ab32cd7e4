/**
 * Raw framing, the tutorial's: one read is one message, passed through unchanged but for one
 * trailing newline, which becomes its terminator (so that `nc` users get it echoed after a reply).
 */
import type { Decoder, Message } from "./decoder.js"
import { CR, crlf, LF, lf, none } from "./terminators.js"

/**
 * One read (or datagram) as one message; a single trailing `\n` or `\r\n` becomes its
 * terminator, the rest is its body (a view of the read).
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const message = Framing.rawMessage(new TextEncoder().encode("Ada\r\n"))
 * console.log(new TextDecoder().decode(message.body), message.terminator) // Ada Uint8Array(2) [ 13, 10 ]
 * ```
 *
 * @since 0.1.0
 */
export const rawMessage = (read: Uint8Array): Message => {
  const n = read.length
  if (n > 0 && read[n - 1] === LF) {
    return n > 1 && read[n - 2] === CR
      ? { body: read.subarray(0, n - 2), terminator: crlf }
      : { body: read.subarray(0, n - 1), terminator: lf }
  }
  return { body: read, terminator: none }
}

// Raw framing holds nothing between reads: one decoder serves every connection.
const rawDecoder: Decoder = {
  push: (read, out) => {
    out.push(rawMessage(read))
    return undefined
  },
  flush: () => undefined,
  pending: 0,
  framesAreReads: true
}

/**
 * The decoder of raw framing: each read is one message (see `rawMessage`); it never fails and
 * holds nothing, so the frames depend on how the bytes were split into reads. For a protocol of
 * its own, a user wants `lines`, `delimited` or `lengthPrefixed`; raw suits datagrams and the
 * tutorial.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * const messages = Stream.make(new TextEncoder().encode("Ada\n")).pipe(Framing.frame(Framing.raw))
 * ```
 *
 * @since 0.1.0
 */
export const raw = (): Decoder => rawDecoder
