/**
 * Typed messages: each frame's body as the UTF-8 JSON of an Effect Schema, over any framing, so
 * that a protocol's handler gets values, and a peer's malformed message is an error naming it.
 */
import { Either, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import { utf8 } from "../bytes.js"
import { quote } from "../text.js"
import type { Decoder, Message } from "./decoder.js"
import { FrameDecodeError } from "./errors.js"

const text = new TextDecoder()

/** How many of a frame's bytes an error shows. */
const previewBytes = 32

const preview = (body: Uint8Array): string =>
  quote(text.decode(body.subarray(0, previewBytes))) + (body.length > previewBytes ? "…" : "")

/** Decodes the frames of `frames` as they come, counting them from the connection's first. */
class SchemaDecoder<A, E> implements Decoder<E | FrameDecodeError, A> {
  /** The frames of one push, reused from push to push. */
  private readonly frames: Array<Message> = []
  private index = 0

  get pending(): number {
    return this.framing.pending
  }

  constructor(
    private readonly decode: (json: string) => Either.Either<A, ParseError>,
    private readonly framing: Decoder<E>
  ) {}

  push(read: Uint8Array, out: Array<A>): E | FrameDecodeError | undefined {
    return this.decodeFrames(this.framing.push(read, this.frames), out)
  }

  flush(out: Array<A>): E | FrameDecodeError | undefined {
    return this.decodeFrames(this.framing.flush(this.frames), out)
  }

  /** Appends the values of the frames held, then returns the framing's `error`, or the first frame that does not decode. */
  private decodeFrames(error: E | undefined, out: Array<A>): E | FrameDecodeError | undefined {
    const frames = this.frames
    for (const frame of frames) {
      const decoded = this.decode(text.decode(frame.body))
      const index = this.index++
      if (Either.isLeft(decoded)) {
        frames.length = 0
        return new FrameDecodeError({ frame: index, preview: preview(frame.body), cause: decoded.left })
      }
      out.push(decoded.right)
    }
    frames.length = 0
    return error
  }
}

/**
 * A decoder of typed messages: frames with `framing` (a new decoder, as each connection needs
 * its own), then decodes each frame's body as UTF-8 JSON with `schema`. A frame that is not the
 * JSON of a valid value fails with `FrameDecodeError` (after the values before it). Decoding is
 * synchronous (`Schema.decodeUnknownEither`): a schema with asynchronous parts is not supported
 * (its frames fail). Invalid UTF-8 is read with U+FFFD in its place, as `TextDecoder` does.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Framing, TcpConnection } from "effect-net"
 *
 * const Request = Schema.Struct({ key: Schema.String })
 *
 * // Each request of a connection, length-prefixed JSON, as a typed value.
 * const handler = (connection: TcpConnection.Connection) =>
 *   connection.reads.pipe(
 *     Framing.frame(() => Framing.schemaJson(Request, Framing.lengthPrefixed())),
 *     Stream.runForEach((request) => Effect.log(request.key))
 *   )
 * ```
 *
 * @since 0.1.0
 */
export const schemaJson = <A, I, E>(schema: Schema.Schema<A, I>, framing: Decoder<E>): Decoder<E | FrameDecodeError, A> =>
  new SchemaDecoder(Schema.decodeUnknownEither(Schema.parseJson(schema)), framing)

/**
 * The encoder of `schemaJson`: a value to its frame, encoded with `schema` to JSON, then framed
 * with `encode` (`encodeLengthPrefixed(options)`, `encodeDelimited(options)`). Fails with the
 * Schema's `ParseError` for a value it cannot encode, or with the encoder's error.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Framing, type TcpConnection } from "effect-net"
 *
 * const Response = Schema.Struct({ key: Schema.String, value: Schema.NullOr(Schema.String) })
 * const encode = Framing.encodeSchemaJson(Response, Framing.encodeLengthPrefixed())
 *
 * const reply = (connection: TcpConnection.Connection, response: typeof Response.Type) =>
 *   Effect.flatMap(encode(response), connection.write)
 * ```
 *
 * @since 0.1.0
 */
export const encodeSchemaJson = <A, I, E>(
  schema: Schema.Schema<A, I>,
  encode: (payload: Uint8Array) => Either.Either<Uint8Array, E>
): (value: A) => Either.Either<Uint8Array, ParseError | E> => {
  const json = Schema.encodeEither(Schema.parseJson(schema))
  return (value) => Either.flatMap(json(value), (text) => encode(utf8(text)))
}
