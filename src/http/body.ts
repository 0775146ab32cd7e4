/**
 * Where a response's body ends, and its decoding, of the reads after the head:
 * `Content-Length` (stop there; an early close is a truncation), `Transfer-Encoding: chunked`
 * (decoded, trailers ignored), or until the server closes. As a Stream transformation
 * (`decode`), or as a loop that hands each piece to a function before it reads on (`run`).
 * Bytes pass through as views of the reads: a body is never held whole in memory.
 *
 * @since 0.1.0
 * @module
 */
import { Channel, Chunk, Effect, Either, Stream } from "effect"
import { latin1 } from "../bytes.js"
import { quote } from "../text.js"
import { HttpBodyError, HttpResponseError } from "./errors.js"
import { header, type ResponseHead } from "./response.js"

/**
 * How the end of a body is known (RFC 9112, 6.3): a client reads exactly that far, and tells a
 * complete body from a truncated one.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const length: HttpGet.Body.BodyLength = { _tag: "Length", length: 5 }
 * const body = HttpGet.Body.decode(length)(Stream.make("hello, world").pipe(Stream.encodeText))
 * console.log(Effect.runSync(Stream.mkString(Stream.decodeText(body)))) // hello
 * ```
 *
 * @since 0.1.0
 */
export type BodyLength =
  | { readonly _tag: "Length"; readonly length: number }
  | { readonly _tag: "Chunked" }
  | { readonly _tag: "UntilClose" }

/**
 * The body's length as the head announces it: none for 1xx, 204 and 304, else from
 * `Transfer-Encoding` or `Content-Length`, else until the server closes.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const lengthOf = (head: string) =>
 *   HttpGet.Body.bodyLength(Either.getOrThrow(HttpGet.Response.parseHead(new TextEncoder().encode(head))))
 * console.log(Either.getOrThrow(lengthOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))) // { _tag: 'Chunked' }
 * console.log(Either.getOrThrow(lengthOf("HTTP/1.1 304 Not Modified\r\n\r\n"))) // { _tag: 'Length', length: 0 }
 * console.log(Either.isLeft(lengthOf("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"))) // true
 * ```
 *
 * @since 0.1.0
 */
export const bodyLength = (head: ResponseHead): Either.Either<BodyLength, HttpResponseError> => {
  if (head.status < 200 || head.status === 204 || head.status === 304) return Either.right({ _tag: "Length", length: 0 })
  const codings = header(head, "transfer-encoding")
  if (codings !== undefined) {
    // Another coding last (gzip alone, say) leaves the end to the close.
    const last = codings.split(",").pop()!.trim().toLowerCase()
    return Either.right(last === "chunked" ? { _tag: "Chunked" } : { _tag: "UntilClose" })
  }
  const length = header(head, "content-length")
  if (length === undefined) return Either.right({ _tag: "UntilClose" })
  // `Content-Length: 5, 5` (a repeated field) is valid when all values agree.
  const values = new Set(length.split(",").map((value) => value.trim()))
  const [value = ""] = values
  return values.size === 1 && /^\d+$/.test(value) && Number.isSafeInteger(Number(value))
    ? Either.right({ _tag: "Length", length: Number(value) })
    : Either.left(new HttpResponseError({ reason: "MalformedHeader", detail: `Content-Length: ${length}` }))
}

/**
 * An incremental body decoder: reads in, the body's bytes out, and whether the body is
 * complete, so that a client stops reading where the body ends.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * const decoder: HttpGet.Body.Decoder = new HttpGet.Body.ChunkedDecoder()
 * const out: Array<Uint8Array> = []
 * const done = decoder.push(new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\n"), out)
 * console.log(done, out.map((bytes) => new TextDecoder().decode(bytes))) // true [ 'hello' ]
 * ```
 *
 * @since 0.1.0
 */
export interface Decoder {
  /** Appends the body bytes `read` holds to `out`; true once the body is complete, or the error. */
  push(read: Uint8Array, out: Array<Uint8Array>): boolean | HttpBodyError
  /** When the reads end before `push` said the body is complete: the error (a truncation), if it is one. */
  end(): HttpBodyError | undefined
}

/** Runs a decoder over the reads: ends with the body, without reading further. */
const decodeWith = (make: () => Decoder) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | HttpBodyError, R> =>
  Stream.suspend(() => {
    const decoder = make()
    const loop: Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, E | HttpBodyError, E, unknown, unknown> =
      Channel.readWithCause({
        onInput: (input: Chunk.Chunk<Uint8Array>) => {
          const out: Array<Uint8Array> = []
          for (const read of input) {
            const result = decoder.push(read, out)
            if (result === false) continue
            const written = Channel.write(Chunk.unsafeFromArray(out))
            return result === true ? written : Channel.zipRight(written, Channel.fail(result))
          }
          return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
        },
        onFailure: Channel.failCause,
        onDone: () => {
          const error = decoder.end()
          return error === undefined ? Channel.void : Channel.fail(error)
        }
      })
    return Stream.pipeThroughChannelOrFail(reads, loop)
  })

/** The first `length` bytes (at least one); a truncation when the reads end before. */
const lengthDecoder = (length: number): Decoder => {
  let received = 0
  return {
    push: (read, out) => {
      const n = Math.min(read.length, length - received)
      if (n > 0) out.push(n === read.length ? read : read.subarray(0, n))
      received += n
      return received === length
    },
    end: () => new HttpBodyError({ reason: "Truncated", received, expected: length })
  }
}

/**
 * The first `length` bytes of the reads (a `Content-Length` body), without pulling further;
 * fails with a truncation when the reads end before.
 *
 * @example
 * ```ts
 * import { Effect, Either, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const body = HttpGet.Body.contentLength(10)(Stream.make("hello").pipe(Stream.encodeText))
 * const result = Effect.runSync(Effect.either(Stream.runDrain(body)))
 * if (Either.isLeft(result)) console.log(result.left.reason, result.left.received) // Truncated 5
 * ```
 *
 * @since 0.1.0
 */
export const contentLength = (length: number) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | HttpBodyError, R> =>
  length === 0 ? Stream.empty : decodeWith(() => lengthDecoder(length))(reads)

/** Everything until the reads end. */
const untilCloseDecoder: Decoder = {
  push: (read, out) => {
    if (read.length > 0) out.push(read)
    return false
  },
  end: () => undefined
}

const LF = 0x0a
/** Longer chunk-size or trailer lines are refused, so that a peer cannot make us buffer without bound. */
const maxLineBytes = 8192

/**
 * Incremental `Transfer-Encoding: chunked` decoder: `SIZE[;ext]CRLF DATA CRLF ... 0CRLF
 * [trailers] CRLF`. Holds at most one unfinished line; data passes through as views of the reads.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * // A chunked body split across reads anywhere, even inside a chunk-size line.
 * const decoder = new HttpGet.Body.ChunkedDecoder()
 * const out: Array<Uint8Array> = []
 * for (const read of ["6\r\nhel", "lo \r\n", "6\r", "\nworld!\r\n0\r\n\r\n"]) decoder.push(new TextEncoder().encode(read), out)
 * console.log(decoder.received, out.map((bytes) => new TextDecoder().decode(bytes)).join("")) // 12 hello world!
 * ```
 *
 * @since 0.1.0
 */
export class ChunkedDecoder implements Decoder {
  private state: "Size" | "Data" | "DataEnd" | "Trailer" | "Done" = "Size"
  private line = ""
  private remaining = 0
  /** Decoded body bytes so far. */
  received = 0

  /** `raw`: append the bytes of the chunked message as received instead of the decoded data. */
  constructor(readonly raw = false) {}

  push(read: Uint8Array, out: Array<Uint8Array>): boolean | HttpBodyError {
    let i = 0
    while (i < read.length && this.state !== "Done") {
      if (this.state === "Data") {
        const n = Math.min(this.remaining, read.length - i)
        if (!this.raw) out.push(read.subarray(i, i + n))
        this.received += n
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.state = "DataEnd"
        continue
      }
      const lf = read.indexOf(LF, i)
      const end = lf === -1 ? read.length : lf
      this.line += latin1(read.subarray(i, end))
      if (this.line.length > maxLineBytes) return this.malformed(`a line over ${maxLineBytes} bytes`)
      i = end
      if (lf === -1) break
      i = lf + 1
      const problem = this.endOfLine(this.line.endsWith("\r") ? this.line.slice(0, -1) : this.line)
      this.line = ""
      if (problem !== undefined) return this.malformed(problem)
    }
    if (this.raw && i > 0) out.push(read.subarray(0, i))
    return this.state === "Done"
  }

  /** Handles a complete line (without its CRLF); what is wrong with it, if anything. */
  private endOfLine(line: string): string | undefined {
    switch (this.state) {
      case "Size": {
        const size = /^([0-9A-Fa-f]+)[ \t]*(?:;.*)?$/.exec(line)
        const value = size === null ? NaN : parseInt(size[1]!, 16)
        if (!Number.isSafeInteger(value)) return `invalid chunk size line ${quote(line)}`
        this.remaining = value
        this.state = value === 0 ? "Trailer" : "Data"
        return undefined
      }
      case "DataEnd":
        this.state = "Size"
        return line === "" ? undefined : `no CRLF after a chunk's data (found ${quote(line)})`
      default:
        // Trailer fields are ignored; the blank line ends the message.
        if (line === "") this.state = "Done"
        return undefined
    }
  }

  private malformed(detail: string): HttpBodyError {
    return new HttpBodyError({ reason: "MalformedChunk", received: this.received, detail })
  }

  end(): HttpBodyError {
    return new HttpBodyError({ reason: "Truncated", received: this.received })
  }
}

/**
 * Decodes a chunked body, a Stream of reads in, the data out; `raw` passes the chunked bytes as
 * received, still ending with the message.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const reads = Stream.make("3\r\nabc\r\n", "0\r\n\r\n").pipe(Stream.encodeText)
 * console.log(Effect.runSync(Stream.mkString(Stream.decodeText(HttpGet.Body.chunked()(reads))))) // abc
 * ```
 *
 * @since 0.1.0
 */
export const chunked = (raw = false) => decodeWith(() => new ChunkedDecoder(raw))

/** The decoder of a body of `length`; none when there is no body to read. */
const decoderFor = (length: BodyLength, raw: boolean): Decoder | undefined => {
  switch (length._tag) {
    case "Length":
      return length.length === 0 ? undefined : lengthDecoder(length.length)
    case "Chunked":
      return new ChunkedDecoder(raw)
    case "UntilClose":
      return untilCloseDecoder
  }
}

/**
 * The body of a response whose head announced `length`. `raw` keeps the transfer coding
 * (the chunk sizes), as the tutorial writes it; the body still ends where the message does.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const reads = () => Stream.make("4\r\nabcd\r\n0\r\n\r\n").pipe(Stream.encodeText)
 * const text = (raw: boolean) =>
 *   Effect.runSync(Stream.mkString(Stream.decodeText(HttpGet.Body.decode({ _tag: "Chunked" }, raw)(reads()))))
 * console.log(JSON.stringify(text(false)), JSON.stringify(text(true))) // "abcd" "4\r\nabcd\r\n0\r\n\r\n"
 * ```
 *
 * @since 0.1.0
 */
export const decode = (length: BodyLength, raw = false) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | HttpBodyError, R> => {
  switch (length._tag) {
    case "Length":
      return contentLength(length.length)(reads)
    case "Chunked":
      return chunked(raw)(reads)
    case "UntilClose":
      return reads
  }
}

/**
 * The body of a response whose head announced `length`, from `first` (the bytes after the head)
 * and then `read`, each piece handed to `onPiece` in order: the next read only once the Effect
 * `onPiece` returned is done. So the pieces may be views of a buffer the next read reuses
 * (`Connection.readLent`): the fast way to write a body out, with no Stream stage and no
 * allocation per read. Ends with the body, without reading further; `raw` as for `decode`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * // The bytes that came with the head, then the connection's reads.
 * const first = new TextEncoder().encode("hel")
 * const reads = [new TextEncoder().encode("lo, world")]
 * const read = Effect.sync(() => reads.shift())
 * const pieces: Array<string> = []
 * const save = (bytes: Uint8Array) => Effect.sync(() => pieces.push(new TextDecoder().decode(bytes)))
 * Effect.runSync(HttpGet.Body.run({ _tag: "Length", length: 8 })(first, read, save))
 * console.log(pieces) // [ 'hel', 'lo, w' ]
 * ```
 *
 * @since 0.1.0
 */
export const run = (length: BodyLength, raw = false) =>
<E, R, E2, R2>(
  first: Uint8Array,
  read: Effect.Effect<Uint8Array | undefined, E, R>,
  onPiece: (bytes: Uint8Array) => Effect.Effect<void, E2, R2>
): Effect.Effect<void, E | E2 | HttpBodyError, R | R2> =>
  Effect.suspend(() => {
    const decoder = decoderFor(length, raw)
    if (decoder === undefined) return Effect.void
    const pieces: Array<Uint8Array> = []
    const onRead = (bytes: Uint8Array | undefined): Effect.Effect<void, E | E2 | HttpBodyError, R | R2> => {
      if (bytes === undefined) {
        const error = decoder.end()
        return error === undefined ? Effect.void : Effect.fail(error)
      }
      pieces.length = 0
      const result = decoder.push(bytes, pieces)
      const then = result === false ? next : result === true ? Effect.void : Effect.fail(result)
      switch (pieces.length) {
        case 0:
          return then
        case 1:
          return Effect.zipRight(onPiece(pieces[0]!), then)
        default:
          return Effect.zipRight(Effect.forEach(pieces, onPiece, { discard: true }), then)
      }
    }
    const next: Effect.Effect<void, E | E2 | HttpBodyError, R | R2> = Effect.flatMap(read, onRead)
    return onRead(first)
  })
