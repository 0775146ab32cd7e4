/**
 * Delimited framing (Netty's DelimiterBasedFrameDecoder, tokio's AnyDelimiterCodec with one
 * delimiter): each frame ends with a delimiter of one or more bytes, which may arrive split
 * across reads. A cap bounds what a frame may hold before its delimiter comes.
 */
import { Either } from "effect"
import { concat, utf8 } from "../bytes.js"
import type { Decoder, Message } from "./decoder.js"
import { FrameDelimiterError, FrameTooLargeError, FrameTruncatedError } from "./errors.js"
import { none } from "./terminators.js"

/**
 * Options of `delimited` and `encodeDelimited`: a decoder and an encoder with the same options
 * speak the same frames.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * // NUL-terminated frames up to 64 KiB; a last frame without its NUL is one too.
 * const options: Framing.DelimitedOptions = { delimiter: new Uint8Array([0]), maxFrameBytes: 65536, acceptUnterminated: true }
 * const decoder = Framing.delimited(options)
 * const encode = Framing.encodeDelimited(options)
 * ```
 *
 * @since 0.1.0
 */
export interface DelimitedOptions {
  /** What ends each frame: bytes, or a string (its UTF-8 bytes); not empty. */
  readonly delimiter: Uint8Array | string
  /** The largest frame accepted, its delimiter not counted; default 8192 (as `lines`). */
  readonly maxFrameBytes?: number | undefined
  /**
   * At end of input, whether an unterminated last frame is a frame (with an empty terminator)
   * rather than a `FrameTruncatedError`; default false: a frame is whole only with its delimiter,
   * so that a connection cut short is not taken for a request. (`lines` accepts it.)
   */
  readonly acceptUnterminated?: boolean | undefined
}

/** The defaults of `DelimitedOptions` but the delimiter (exported as `Framing.defaults.delimited`). */
export const defaults = {
  maxFrameBytes: 8192,
  acceptUnterminated: false
} as const

const delimiterBytes = (delimiter: Uint8Array | string): Uint8Array => {
  const bytes = typeof delimiter === "string" ? utf8(delimiter) : delimiter
  if (bytes.length === 0) throw new RangeError("Framing.delimited: the delimiter is empty")
  return bytes
}

/** Where `delimiter` first occurs in `bytes` at or after `from`, else -1. */
const find = (bytes: Uint8Array, delimiter: Uint8Array, from: number): number => {
  const last = bytes.length - delimiter.length
  for (let i = bytes.indexOf(delimiter[0]!, from); i !== -1 && i <= last; i = bytes.indexOf(delimiter[0]!, i + 1)) {
    let j = 1
    while (j < delimiter.length && bytes[i + j] === delimiter[j]) j++
    if (j === delimiter.length) return i
  }
  return -1
}

/** The last `n` bytes of `parts` (which hold at least `n`), copied. */
const tailOf = (parts: ReadonlyArray<Uint8Array>, n: number): Uint8Array => {
  const tail = new Uint8Array(n)
  for (let p = parts.length - 1, at = n; at > 0; p--) {
    const part = parts[p]!
    const take = Math.min(at, part.length)
    tail.set(part.subarray(part.length - take), at - take)
    at -= take
  }
  return tail
}

/** Whether `bytes[at..]` begins with `prefix[from..to]`. */
const startsWith = (bytes: Uint8Array, at: number, prefix: Uint8Array, from: number, to: number): boolean => {
  if (at + to - from > bytes.length) return false
  for (let i = from; i < to; i++) if (bytes[at + i - from] !== prefix[i]) return false
  return true
}

/**
 * Holds at most one partial frame (views of the reads it came in), of at most `maxFrameBytes`
 * bytes and the beginning of its delimiter. A frame whole in one read is a view of it.
 */
class DelimitedDecoder implements Decoder<FrameTooLargeError | FrameTruncatedError> {
  private parts: Array<Uint8Array> = []
  private held = 0
  private readonly tooLarge: FrameTooLargeError

  get pending(): number {
    return this.held
  }

  constructor(
    private readonly delimiter: Uint8Array,
    private readonly maxFrameBytes: number,
    private readonly acceptUnterminated: boolean
  ) {
    this.tooLarge = new FrameTooLargeError({ maxFrameBytes })
  }

  push(read: Uint8Array, out: Array<Message>): FrameTooLargeError | undefined {
    const delimiter = this.delimiter
    let start = 0
    if (this.held > 0) {
      // The frame held ends at a delimiter that begins among the bytes held, or in this read.
      const straddling = this.straddling(read)
      let body: Uint8Array
      if (straddling !== -1) {
        body = concat(...this.parts).subarray(0, this.held - (delimiter.length - straddling))
        start = straddling
      } else {
        const end = find(read, delimiter, 0)
        if (end === -1) return this.hold(read)
        body = concat(...this.parts, read.subarray(0, end))
        start = end + delimiter.length
      }
      this.parts = []
      this.held = 0
      if (body.length > this.maxFrameBytes) return new FrameTooLargeError({ length: body.length, maxFrameBytes: this.maxFrameBytes })
      out.push({ body, terminator: delimiter })
    }
    for (let end = find(read, delimiter, start); end !== -1; end = find(read, delimiter, start)) {
      if (end - start > this.maxFrameBytes) return new FrameTooLargeError({ length: end - start, maxFrameBytes: this.maxFrameBytes })
      out.push({ body: read.subarray(start, end), terminator: delimiter })
      start = end + delimiter.length
    }
    return start < read.length ? this.hold(read.subarray(start)) : undefined
  }

  /**
   * Where in `read` a delimiter ends that begins among the last bytes held, else -1. (A delimiter
   * that would need more bytes than `read` has may still come: those bytes are held with the rest.)
   */
  private straddling(read: Uint8Array): number {
    const delimiter = this.delimiter
    const n = Math.min(delimiter.length - 1, this.held)
    if (n === 0) return -1
    const tail = tailOf(this.parts, n)
    for (let i = 0; i < n; i++) {
      // The delimiter's first `n - i` bytes end the bytes held, its others begin the read.
      if (startsWith(tail, i, delimiter, 0, n - i) && startsWith(read, 0, delimiter, n - i, delimiter.length)) {
        return delimiter.length - (n - i)
      }
    }
    return -1
  }

  /**
   * Holds the bytes of a frame not complete yet; fails once they are more than the cap and do
   * not end with the beginning of a delimiter after a frame within the cap.
   */
  private hold(bytes: Uint8Array): FrameTooLargeError | undefined {
    this.parts.push(bytes)
    this.held += bytes.length
    const over = this.held - this.maxFrameBytes
    return over <= 0 || this.endsWithDelimiterStart(over) ? undefined : this.tooLarge
  }

  /** Whether the bytes held end with the first `length` bytes of the delimiter, for some `length >= min`. */
  private endsWithDelimiterStart(min: number): boolean {
    const delimiter = this.delimiter
    const n = Math.min(delimiter.length - 1, this.held)
    if (min > n) return false
    const tail = tailOf(this.parts, n)
    for (let length = min; length <= n; length++) if (startsWith(tail, n - length, delimiter, 0, length)) return true
    return false
  }

  flush(out: Array<Message>): FrameTooLargeError | FrameTruncatedError | undefined {
    if (this.held === 0) return undefined
    if (!this.acceptUnterminated) return new FrameTruncatedError({ pending: this.held })
    // Held past the cap, the beginning of a delimiter that never came is the frame's own.
    if (this.held > this.maxFrameBytes) return new FrameTooLargeError({ length: this.held, maxFrameBytes: this.maxFrameBytes })
    out.push({ body: concat(...this.parts), terminator: none })
    this.parts = []
    this.held = 0
    return undefined
  }
}

/**
 * A decoder of delimited frames: each frame's `body` is the bytes before its `delimiter`, which
 * is its `terminator` (the same array for every frame). A frame with more than `maxFrameBytes`
 * before its delimiter fails with `FrameTooLargeError` as soon as those bytes came; input that
 * ends after an unterminated frame fails with `FrameTruncatedError` (from `flush`), unless
 * `acceptUnterminated`. Throws a `RangeError` for an empty delimiter.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * // Frames ended by CRLF CRLF, the delimiter split across reads.
 * const program = Stream.make("one\r\n\r\ntwo\r", "\n\r", "\n").pipe(
 *   Stream.encodeText,
 *   Framing.frame(() => Framing.delimited({ delimiter: "\r\n\r\n", maxFrameBytes: 1024 })),
 *   Stream.map((frame) => new TextDecoder().decode(frame.body)),
 *   Stream.runCollect
 * )
 * Effect.runPromise(program).then(console.log) // { _id: 'Chunk', values: [ 'one', 'two' ] }
 * ```
 *
 * @since 0.1.0
 */
export const delimited = (options: DelimitedOptions): Decoder<FrameTooLargeError | FrameTruncatedError> =>
  new DelimitedDecoder(
    delimiterBytes(options.delimiter),
    options.maxFrameBytes ?? defaults.maxFrameBytes,
    options.acceptUnterminated ?? defaults.acceptUnterminated
  )

/**
 * The encoder of `delimited` with the same options: a payload to its frame, payload and
 * delimiter in one buffer. Refuses what would not decode as that payload: one over
 * `maxFrameBytes` (`FrameTooLargeError`), or one in which the delimiter begins
 * (`FrameDelimiterError`). Throws a `RangeError` for an empty delimiter.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framing, type TcpConnection } from "effect-net"
 *
 * const encode = Framing.encodeDelimited({ delimiter: "\0" })
 * const send = (connection: TcpConnection.Connection, text: string) =>
 *   Effect.flatMap(encode(new TextEncoder().encode(text)), connection.write)
 * ```
 *
 * @since 0.1.0
 */
export const encodeDelimited = (
  options: DelimitedOptions
): (payload: Uint8Array) => Either.Either<Uint8Array, FrameTooLargeError | FrameDelimiterError> => {
  const delimiter = delimiterBytes(options.delimiter)
  const maxFrameBytes = options.maxFrameBytes ?? defaults.maxFrameBytes
  return (payload) => {
    if (payload.length > maxFrameBytes) return Either.left(new FrameTooLargeError({ length: payload.length, maxFrameBytes }))
    const frame = concat(payload, delimiter)
    // The first delimiter must be the one appended (one that overlaps itself may begin earlier).
    const index = find(frame, delimiter, 0)
    return index === payload.length ? Either.right(frame) : Either.left(new FrameDelimiterError({ index }))
  }
}
