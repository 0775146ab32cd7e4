/**
 * What can go wrong in framing a peer's bytes: one tagged error per way a decoder, an encoder or
 * the message loop refuses them, each with the figures a log line or a reply to the peer needs.
 */
import { Data, Duration } from "effect"
import type { ParseError } from "effect/ParseResult"

/**
 * A line grew past `maxLineBytes` before its newline arrived (`Framing.lines`). Its message is
 * what the greeting server answers before it closes the connection.
 *
 * @example
 * ```ts
 * import { Framing, LineTooLongError } from "effect-net"
 *
 * const out: Array<Framing.Message> = []
 * const error = Framing.lines({ maxLineBytes: 4 }).push(new TextEncoder().encode("hello\n"), out)
 * console.log(error instanceof LineTooLongError && error.message) // line too long (max 4 bytes)
 * ```
 *
 * @since 0.1.0
 */
export class LineTooLongError extends Data.TaggedError("LineTooLongError")<{
  readonly maxLineBytes: number
}> {
  override get message(): string {
    return `line too long (max ${this.maxLineBytes} bytes)`
  }
}

/**
 * A line did not arrive whole within the time allowed from its first byte: a peer trickling
 * bytes (raised by `TcpConnection.runMessages` with a `lineTimeout`).
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { LineTimeoutError } from "effect-net"
 *
 * console.log(new LineTimeoutError({ timeout: Duration.seconds(30) }).message) // line not complete within 30 s
 * ```
 *
 * @since 0.1.0
 */
export class LineTimeoutError extends Data.TaggedError("LineTimeoutError")<{
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `line not complete within ${Duration.toSeconds(this.timeout)} s`
  }
}

/**
 * A frame over `maxFrameBytes`. A length-prefixed frame fails as soon as its header announces
 * it, before any of its body is held (also when an 8-byte length is beyond
 * `Number.MAX_SAFE_INTEGER`, whatever the cap); a delimited frame as soon as more bytes than the
 * cap came without its delimiter, so its `length` is not known; an encoder refuses a payload the
 * decoder would refuse.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Framing } from "effect-net"
 *
 * const encode = Framing.encodeLengthPrefixed({ lengthBytes: 1 })
 * const refused = encode(new Uint8Array(300))
 * if (Either.isLeft(refused)) console.log(refused.left.message) // frame too large (300 bytes, max 255)
 * ```
 *
 * @since 0.1.0
 */
export class FrameTooLargeError extends Data.TaggedError("FrameTooLargeError")<{
  /** The payload's length (its header not counted), when known; above 2^53 only approximate. */
  readonly length?: number | undefined
  /** The largest payload allowed: the option, or less where the header cannot announce it. */
  readonly maxFrameBytes: number
}> {
  override get message(): string {
    return this.length === undefined
      ? `frame too large (max ${this.maxFrameBytes} bytes)`
      : `frame too large (${this.length} bytes, max ${this.maxFrameBytes})`
  }
}

/**
 * A length prefix that counts its own header (`lengthIncludesHeader`) announced less than the
 * header's size: a negative payload, so the stream cannot be framed any further.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const decoder = Framing.lengthPrefixed({ lengthBytes: 2, lengthIncludesHeader: true })
 * const error = decoder.push(new Uint8Array([0, 1]), [])
 * console.log(error?.message) // frame length 1 is less than its 2-byte header
 * ```
 *
 * @since 0.1.0
 */
export class FrameLengthError extends Data.TaggedError("FrameLengthError")<{
  /** The length the header announced. */
  readonly length: number
  readonly headerBytes: number
}> {
  override get message(): string {
    return `frame length ${this.length} is less than its ${this.headerBytes}-byte header`
  }
}

/**
 * The input ended inside a frame (its header or its body cut short, or a delimited frame without
 * its delimiter): what `Decoder.flush` returns rather than a partial frame.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const decoder = Framing.lengthPrefixed()
 * decoder.push(new Uint8Array([0, 0, 0, 9, 1, 2]), [])
 * console.log(decoder.flush([])?.message) // input ended inside a frame (6 bytes pending)
 * ```
 *
 * @since 0.1.0
 */
export class FrameTruncatedError extends Data.TaggedError("FrameTruncatedError")<{
  /** The bytes held of the frame when the input ended (`Decoder.pending`). */
  readonly pending: number
}> {
  override get message(): string {
    return `input ended inside a frame (${this.pending} bytes pending)`
  }
}

/**
 * A payload `Framing.encodeDelimited` refuses: its delimiter occurs in it (or begins in it and
 * ends in the delimiter appended), so the decoder would end the frame there.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Framing } from "effect-net"
 *
 * const refused = Framing.encodeDelimited({ delimiter: "\0" })(new TextEncoder().encode("a\0b"))
 * if (Either.isLeft(refused)) console.log(refused.left.message) // frame contains its delimiter (at byte 1)
 * ```
 *
 * @since 0.1.0
 */
export class FrameDelimiterError extends Data.TaggedError("FrameDelimiterError")<{
  /** Where in the payload the delimiter begins. */
  readonly index: number
}> {
  override get message(): string {
    return `frame contains its delimiter (at byte ${this.index})`
  }
}

/**
 * A frame whose body is not the JSON of its Schema (`Framing.schemaJson`): names the frame by
 * its index on the connection (the first is 0) and a short escaped preview of its bytes; the
 * Schema's `ParseError` is the `cause`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Framing } from "effect-net"
 *
 * const decoder = Framing.schemaJson(Schema.Struct({ id: Schema.Number }), Framing.lines())
 * const error = decoder.push(new TextEncoder().encode("{\"id\":\"one\"}\n"), [])
 * console.log(error?.message) // frame 0 does not decode: "{\"id\":\"one\"}"
 * ```
 *
 * @since 0.1.0
 */
export class FrameDecodeError extends Data.TaggedError("FrameDecodeError")<{
  /** The frame's index on the connection, from 0. */
  readonly frame: number
  /** Its first bytes, quoted and escaped, with `…` when there are more. */
  readonly preview: string
  readonly cause: ParseError
}> {
  override get message(): string {
    return `frame ${this.frame} does not decode: ${this.preview}`
  }
}
