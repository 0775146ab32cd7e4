/**
 * Length-prefixed framing (Netty's LengthFieldBasedFrameDecoder, tokio's LengthDelimitedCodec):
 * each frame is a header holding its payload's length, then the payload. The length is checked
 * against the cap as soon as the header is whole, before any of the payload is held.
 */
import { Either } from "effect"
import { concat } from "../bytes.js"
import type { Decoder, Message } from "./decoder.js"
import { FrameLengthError, FrameTooLargeError, FrameTruncatedError } from "./errors.js"
import { none } from "./terminators.js"

/**
 * Options of `lengthPrefixed` and `encodeLengthPrefixed`: a decoder and an encoder with the same
 * options speak the same frames.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * // A 2-byte little-endian length that counts itself, frames up to 4 KiB.
 * const options: Framing.LengthPrefixedOptions = { lengthBytes: 2, littleEndian: true, lengthIncludesHeader: true, maxFrameBytes: 4096 }
 * const decoder = Framing.lengthPrefixed(options)
 * const encode = Framing.encodeLengthPrefixed(options)
 * ```
 *
 * @since 0.1.0
 */
export interface LengthPrefixedOptions {
  /** The header's size: 1, 2, 4 (default) or 8 bytes, an unsigned integer. */
  readonly lengthBytes?: 1 | 2 | 4 | 8 | undefined
  /** The header's byte order: big-endian (network order) by default. */
  readonly littleEndian?: boolean | undefined
  /** The largest payload accepted, its header not counted; default 1 MiB. */
  readonly maxFrameBytes?: number | undefined
  /** Whether the length counts the header as well as the payload; default false (the payload's alone). */
  readonly lengthIncludesHeader?: boolean | undefined
}

/** The defaults of `LengthPrefixedOptions` (exported as `Framing.defaults.lengthPrefixed`). */
export const defaults = {
  lengthBytes: 4,
  littleEndian: false,
  maxFrameBytes: 1024 * 1024,
  lengthIncludesHeader: false
} as const

/** The options with their defaults, and what they imply. */
class Format {
  readonly lengthBytes: number
  readonly littleEndian: boolean
  readonly maxFrameBytes: number
  /** What the header adds to the payload's length in the number it holds. */
  readonly headerInLength: number

  constructor(options: LengthPrefixedOptions) {
    this.lengthBytes = options.lengthBytes ?? defaults.lengthBytes
    this.littleEndian = options.littleEndian ?? defaults.littleEndian
    this.maxFrameBytes = options.maxFrameBytes ?? defaults.maxFrameBytes
    this.headerInLength = (options.lengthIncludesHeader ?? defaults.lengthIncludesHeader) ? this.lengthBytes : 0
  }

  /**
   * The payload length announced by the header at `bytes[at]`, or why it cannot be framed. Read
   * as a float: exact up to 2^53, and above it still above `Number.MAX_SAFE_INTEGER`.
   */
  payloadLength(bytes: Uint8Array, at: number): number | FrameTooLargeError | FrameLengthError {
    const n = this.lengthBytes
    let length = 0
    if (this.littleEndian) for (let i = at + n - 1; i >= at; i--) length = length * 256 + bytes[i]!
    else for (let i = at; i < at + n; i++) length = length * 256 + bytes[i]!
    if (length > Number.MAX_SAFE_INTEGER) return new FrameTooLargeError({ length, maxFrameBytes: this.maxFrameBytes })
    const payload = length - this.headerInLength
    if (payload < 0) return new FrameLengthError({ length, headerBytes: n })
    if (payload > this.maxFrameBytes) return new FrameTooLargeError({ length: payload, maxFrameBytes: this.maxFrameBytes })
    return payload
  }

  /** The largest payload a frame can carry: the cap, or less where the header cannot hold its length. */
  get maxPayload(): number {
    const announceable = Math.min(256 ** this.lengthBytes - 1, Number.MAX_SAFE_INTEGER) - this.headerInLength
    return Math.min(this.maxFrameBytes, announceable)
  }

  /** Writes `length` (payload and header as the options count it) into the header at `bytes[0]`. */
  writeLength(bytes: Uint8Array, length: number): void {
    const n = this.lengthBytes
    for (let i = 0; i < n; i++) {
      bytes[this.littleEndian ? i : n - 1 - i] = length % 256
      length = Math.floor(length / 256)
    }
  }
}

/**
 * Holds at most one partial frame: its header (in `header`) until whole, then its payload's
 * bytes (views of the reads) until `payload` of them came. A frame whole in one read is a view
 * of it, not a copy.
 */
class LengthPrefixedDecoder implements Decoder<FrameTooLargeError | FrameLengthError | FrameTruncatedError> {
  private readonly header: Uint8Array
  /** Bytes held of the frame not complete yet, header included. */
  private held = 0
  /** The payload's bytes held (views of the reads they came in). */
  private parts: Array<Uint8Array> = []
  /** The payload length of the frame not complete yet, once its header is whole; -1 before. */
  private payload = -1

  get pending(): number {
    return this.held
  }

  constructor(private readonly format: Format) {
    this.header = new Uint8Array(format.lengthBytes)
  }

  push(read: Uint8Array, out: Array<Message>): FrameTooLargeError | FrameLengthError | undefined {
    const headerBytes = this.format.lengthBytes
    let at = 0
    if (this.held > 0) {
      if (this.payload < 0) {
        // A header begun in an earlier read.
        at = Math.min(headerBytes - this.held, read.length)
        this.header.set(read.subarray(0, at), this.held)
        this.held += at
        if (this.held < headerBytes) return undefined
        const payload = this.format.payloadLength(this.header, 0)
        if (typeof payload !== "number") return payload
        this.payload = payload
      }
      // A payload begun in an earlier read (or in this one, after a header begun earlier).
      const end = at + this.payload - (this.held - headerBytes)
      if (end > read.length) return this.hold(read.subarray(at))
      const rest = read.subarray(at, end)
      out.push({ body: this.parts.length === 0 ? rest : concat(...this.parts, rest), terminator: none })
      this.parts = []
      this.held = 0
      this.payload = -1
      at = end
    }
    // Frames that begin in this read.
    while (read.length - at >= headerBytes) {
      const payload = this.format.payloadLength(read, at)
      if (typeof payload !== "number") return payload
      const end = at + headerBytes + payload
      if (end > read.length) {
        this.held = headerBytes
        this.payload = payload
        return this.hold(read.subarray(at + headerBytes))
      }
      out.push({ body: read.subarray(at + headerBytes, end), terminator: none })
      at = end
    }
    if (at < read.length) {
      this.header.set(read.subarray(at))
      this.held = read.length - at
    }
    return undefined
  }

  /** Holds payload bytes of the frame not complete yet. */
  private hold(bytes: Uint8Array): undefined {
    if (bytes.length > 0) {
      this.parts.push(bytes)
      this.held += bytes.length
    }
    return undefined
  }

  flush(): FrameTruncatedError | undefined {
    return this.held === 0 ? undefined : new FrameTruncatedError({ pending: this.held })
  }
}

/**
 * A decoder of length-prefixed frames: a header of `lengthBytes` bytes holding the payload's
 * length (big-endian unless `littleEndian`, counting the header too with `lengthIncludesHeader`),
 * then the payload, the frame's `body` (its `terminator` is empty). An announced payload over
 * `maxFrameBytes` fails with `FrameTooLargeError` before any of it is held, a length smaller than
 * its own header with `FrameLengthError`, and input that ends inside a frame with
 * `FrameTruncatedError` (from `flush`).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * // Two frames of a 2-byte little-endian length, split across reads anywhere.
 * const reads = Stream.make(new Uint8Array([2, 0, 104]), new Uint8Array([105, 0]), new Uint8Array([0]))
 * const program = reads.pipe(
 *   Framing.frame(() => Framing.lengthPrefixed({ lengthBytes: 2, littleEndian: true, maxFrameBytes: 4096 })),
 *   Stream.map((frame) => new TextDecoder().decode(frame.body)),
 *   Stream.runCollect
 * )
 * Effect.runPromise(program).then(console.log) // { _id: 'Chunk', values: [ 'hi', '' ] }
 * ```
 *
 * @since 0.1.0
 */
export const lengthPrefixed = (
  options: LengthPrefixedOptions = {}
): Decoder<FrameTooLargeError | FrameLengthError | FrameTruncatedError> => new LengthPrefixedDecoder(new Format(options))

/**
 * The encoder of `lengthPrefixed` with the same options: a payload to its frame, header and
 * payload in one buffer. Refuses what the decoder would: a payload over `maxFrameBytes`, or too
 * long for the header to announce (over 255 bytes with a 1-byte length). An `Either` is an
 * Effect, so `yield* encode(payload)` works in `Effect.gen`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type TcpConnection } from "effect-net"
 *
 * const encode = Framing.encodeLengthPrefixed({ lengthBytes: 2 })
 * const send = (connection: TcpConnection.Connection, payload: Uint8Array) =>
 *   Effect.flatMap(encode(payload), connection.write)
 * ```
 *
 * @since 0.1.0
 */
export const encodeLengthPrefixed = (
  options: LengthPrefixedOptions = {}
): (payload: Uint8Array) => Either.Either<Uint8Array, FrameTooLargeError> => {
  const format = new Format(options)
  const maxPayload = format.maxPayload
  return (payload) => {
    if (payload.length > maxPayload) return Either.left(new FrameTooLargeError({ length: payload.length, maxFrameBytes: maxPayload }))
    const frame = new Uint8Array(format.lengthBytes + payload.length)
    format.writeLength(frame, payload.length + format.headerInLength)
    frame.set(payload, format.lengthBytes)
    return Either.right(frame)
  }
}
