/**
 * Where a response's body ends, and its decoding, as Stream transformations of the reads
 * after the head: `Content-Length` (stop there; an early close is a truncation),
 * `Transfer-Encoding: chunked` (decoded, trailers ignored), or until the server closes.
 * Bytes pass through as views of the reads: a body is never held whole in memory.
 */
import { Channel, Chunk, Either, Stream } from "effect"
import { latin1 } from "../bytes.js"
import { quote } from "../text.js"
import { HttpBodyError, HttpResponseError } from "./errors.js"
import { header, type ResponseHead } from "./response.js"

/** How the end of a body is known (RFC 9112, 6.3). */
export type BodyLength =
  | { readonly _tag: "Length"; readonly length: number }
  | { readonly _tag: "Chunked" }
  | { readonly _tag: "UntilClose" }

/** The body's length as the head announces it. */
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

/** An incremental body decoder. */
interface Decoder {
  /** Appends the body bytes `read` holds to `out`; true once the body is complete, or the error. */
  push(read: Uint8Array, out: Array<Uint8Array>): boolean | HttpBodyError
  /** The error when the reads end before the body is complete. */
  truncated(): HttpBodyError
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
        onDone: () => Channel.fail(decoder.truncated())
      })
    return Stream.pipeThroughChannelOrFail(reads, loop)
  })

/** The first `length` bytes; fails with a truncation when the reads end before. */
export const contentLength = (length: number) =>
  decodeWith(() => {
    let received = 0
    return {
      push: (read, out) => {
        const n = Math.min(read.length, length - received)
        out.push(n === read.length ? read : read.subarray(0, n))
        received += n
        return received === length
      },
      truncated: () => new HttpBodyError({ reason: "Truncated", received, expected: length })
    }
  })

const LF = 0x0a
/** Longer chunk-size or trailer lines are refused, so that a peer cannot make us buffer without bound. */
const maxLineBytes = 8192

/**
 * Incremental `Transfer-Encoding: chunked` decoder: `SIZE[;ext]CRLF DATA CRLF ... 0CRLF
 * [trailers] CRLF`. Holds at most one unfinished line; data passes through as views of the reads.
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
    if (this.raw) out.push(read.subarray(0, i))
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

  truncated(): HttpBodyError {
    return new HttpBodyError({ reason: "Truncated", received: this.received })
  }
}

/** Decodes a chunked body; `raw` passes the chunked bytes as received, still ending with the message. */
export const chunked = (raw = false) => decodeWith(() => new ChunkedDecoder(raw))

/**
 * The body of a response whose head announced `length`. `raw` keeps the transfer coding
 * (the chunk sizes), as the tutorial writes it; the body still ends where the message does.
 */
export const decode = (length: BodyLength, raw = false) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | HttpBodyError, R> => {
  switch (length._tag) {
    case "Length":
      return length.length === 0 ? Stream.empty : contentLength(length.length)(reads)
    case "Chunked":
      return chunked(raw)(reads)
    case "UntilClose":
      return reads
  }
}
