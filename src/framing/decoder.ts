/**
 * The decoder contract every framing implements: pure and incremental (a read in, the frames it
 * completes out), so that the Stream transformation (`frame`) and the server's fast loop
 * (`TcpConnection.runMessages`) frame the same bytes the same way.
 */

/**
 * A frame as decoded from the byte stream: its body and what ended it on the wire.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const out: Array<Framing.Message> = []
 * Framing.lines().push(new TextEncoder().encode("hello\r\n"), out)
 * console.log(new TextDecoder().decode(out[0]!.body)) // hello
 * ```
 *
 * @since 0.1.0
 */
export interface Message {
  readonly body: Uint8Array
  /**
   * What ended the frame on the wire, which a protocol may echo: `\n` or `\r\n` (raw), `\n`
   * (lines), the delimiter (delimited), empty (length-prefixed, or a raw read without one).
   */
  readonly terminator: Uint8Array
}

/**
 * Turns a connection's reads into frames, one read at a time. A decoder holds the state of one
 * connection (a frame begun in one read and ended in another), so make one per connection: each
 * constructor (`lines()`, `lengthPrefixed()`, ...) returns a new one (`raw()`, which holds
 * nothing, shares one). Caps are checked before bytes are held: a peer cannot make a decoder hold
 * more than its cap (and a header, or the beginning of a delimiter) whatever it sends. Frames
 * and the bytes held may be views of the reads pushed: a read is not to be reused after it.
 *
 * After it has returned an error the decoder's state is unspecified: the connection is to be
 * closed (the frames before the error are the last ones).
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const decoder = Framing.lengthPrefixed({ lengthBytes: 2 })
 * const frames: Array<Framing.Message> = []
 * decoder.push(new Uint8Array([0, 3, 1, 2]), frames) // half a frame: nothing yet
 * decoder.push(new Uint8Array([3, 0, 0]), frames) // its end, then an empty frame
 * console.log(frames.map((frame) => frame.body.length), decoder.pending, decoder.flush(frames)) // [ 3, 0 ] 0 undefined
 * ```
 *
 * @since 0.1.0
 */
export interface Decoder<E = never, A = Message> {
  /**
   * Appends the frames `read` completes to `out`. Returns the error, if the bytes cannot be
   * framed (`out` then holds the frames before it), else `undefined`.
   */
  push(read: Uint8Array, out: Array<A>): E | undefined
  /**
   * At end of input: appends the last frame if the input ended in one (an unterminated line);
   * returns an error if it ended inside a frame (`FrameTruncatedError`), else `undefined`.
   */
  flush(out: Array<A>): E | undefined
  /** Bytes held of a frame not complete yet (a line waiting for its newline). */
  readonly pending: number
  /**
   * Its frames are the reads themselves (`raw`): a reader hands it each read whole. The frames
   * of other decoders do not depend on how the bytes were split into reads.
   */
  readonly framesAreReads?: boolean | undefined
}
