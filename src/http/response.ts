/**
 * The head of an HTTP/1.x response: the bytes up to the first empty line, found whatever the
 * read boundaries are (the empty line may span reads), then parsed into the status line and
 * the headers. Lines end in CRLF or, as RFC 9112 (2.2) lets a recipient accept, a bare LF.
 * `readHead` takes the head off a connection's reads, skipping interim (1xx) heads, and leaves
 * the bytes after it; `split` does the same to a Stream of reads and leaves the body as a Stream.
 *
 * @since 0.1.0
 * @module
 */
import { Chunk, Effect, Either, Option, type Scope, Stream } from "effect"
import { concat, latin1 } from "../bytes.js"
import { HttpResponseError } from "./errors.js"

/**
 * The limit on the header section (status line, headers and blank line), as common servers
 * use: what a server may make the client hold before its body.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * console.log(HttpGet.Response.defaultMaxHeadBytes) // 65536
 * ```
 *
 * @since 0.1.0
 */
export const defaultMaxHeadBytes = 64 * 1024

/**
 * The limit on interim (1xx) heads before the final one: a server cannot keep the client
 * reading heads.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * console.log(HttpGet.Response.defaultMaxInterimResponses) // 100
 * ```
 *
 * @since 0.1.0
 */
export const defaultMaxInterimResponses = 100

/**
 * A response's status line and headers, parsed, with the bytes they came as (which a client
 * may print as received).
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
 * const head: HttpGet.Response.ResponseHead = Either.getOrThrow(HttpGet.Response.parseHead(bytes))
 * console.log(head.status, head.reason, head.headers) // 404 Not Found [ [ 'Content-Length', '0' ] ]
 * ```
 *
 * @since 0.1.0
 */
export interface ResponseHead {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly version: string
  readonly status: number
  /** The reason phrase, possibly empty. */
  readonly reason: string
  /** The header fields in the order received, names as sent. */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>
  /** The head as received, through its blank line. */
  readonly bytes: Uint8Array
}

/**
 * A header's value, the name matched without regard to case (as HTTP names are); repeated
 * fields are joined with `, `, which means the same.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nVary: Accept\r\nvary: Origin\r\n\r\n")
 * const head = Either.getOrThrow(HttpGet.Response.parseHead(bytes))
 * console.log(HttpGet.Response.header(head, "VARY"), HttpGet.Response.header(head, "Age")) // Accept, Origin undefined
 * ```
 *
 * @since 0.1.0
 */
export const header = (head: ResponseHead, name: string): string | undefined => {
  const wanted = name.toLowerCase()
  const values = head.headers.filter(([key]) => key.toLowerCase() === wanted).map(([, value]) => value)
  return values.length === 0 ? undefined : values.join(", ")
}

const CR = 0x0d
const LF = 0x0a

/**
 * Incremental search for the end of the head: an empty line (LF or CRLF right after a line's
 * LF). Holds the head's bytes seen so far, never more than `maxHeadBytes`; the body bytes after
 * it stay in the read they came in.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * const decoder = new HttpGet.Response.HeadDecoder()
 * console.log(decoder.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Len"))) // -1
 * const read = new TextEncoder().encode("gth: 2\r\n\r\nhi")
 * const bodyStart = decoder.push(read)
 * console.log(bodyStart, new TextDecoder().decode(read.subarray(bodyStart))) // 10 hi
 * ```
 *
 * @since 0.1.0
 */
export class HeadDecoder {
  private readonly parts: Array<Uint8Array> = []
  private size = 0
  /** Where the scan is: in a line, at the start of one, or after a CR that starts one (across reads). */
  private at: "Line" | "LineStart" | "LineStartCR" = "Line"

  constructor(readonly maxHeadBytes: number = defaultMaxHeadBytes) {}

  /** Scans `read`: the offset in it where the body starts once the head is complete, else -1. */
  push(read: Uint8Array): number {
    const limit = Math.min(read.length, this.maxHeadBytes - this.size)
    for (let i = 0; i < limit; i++) {
      const byte = read[i]
      if (byte !== LF) {
        this.at = byte === CR && this.at === "LineStart" ? "LineStartCR" : "Line"
      } else if (this.at === "Line") {
        this.at = "LineStart"
      } else {
        this.parts.push(read.subarray(0, i + 1))
        this.size += i + 1
        return i + 1
      }
    }
    this.parts.push(read.subarray(0, limit))
    this.size += limit
    return -1
  }

  /** No byte of the head has arrived. */
  get empty(): boolean {
    return this.size === 0
  }

  /** The limit was reached without the end of the head. */
  get tooLarge(): boolean {
    return this.size >= this.maxHeadBytes
  }

  /** The head's bytes, through its empty line (once `push` found it). */
  head(): Uint8Array {
    return concat(...this.parts)
  }
}

const statusLine = /^(HTTP\/1\.\d) (\d{3})(?: (.*))?$/
const headerLine = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/

/** The lines of a complete head (through its empty line), without their line ends. */
const linesOf = (bytes: Uint8Array): Array<string> => latin1(bytes).replace(/\r?\n\r?\n$/, "").split(/\r?\n/)

/**
 * The status line and the header lines as received (folded ones apart), without their line
 * ends: to show a head as the server sent it.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
 * console.log(HttpGet.Response.headLines(Either.getOrThrow(HttpGet.Response.parseHead(bytes)))) // [ 'HTTP/1.1 200 OK', 'Content-Length: 2' ]
 * ```
 *
 * @since 0.1.0
 */
export const headLines = (head: ResponseHead): Array<string> => linesOf(head.bytes)

/**
 * Parses a complete head (through its empty line), such as `HeadDecoder` finds. A bare CR
 * within a line makes it malformed; so does anything but HTTP/1.x, such as another protocol
 * answering on the port.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const parsed = HttpGet.Response.parseHead(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n\r\n"))
 * if (Either.isLeft(parsed)) console.log(parsed.left.reason) // MalformedStatusLine
 * ```
 *
 * @since 0.1.0
 */
export const parseHead = (bytes: Uint8Array): Either.Either<ResponseHead, HttpResponseError> => {
  const [first = "", ...lines] = linesOf(bytes)
  const status = statusLine.exec(first)
  if (status === null) return Either.left(new HttpResponseError({ reason: "MalformedStatusLine", detail: first }))
  const headers: Array<[string, string]> = []
  for (const line of lines) {
    const last = headers[headers.length - 1]
    // An obsolete line folding continues the previous value (RFC 9112, 5.2: replace it with a space).
    if (/^[ \t]/.test(line) && last !== undefined) {
      last[1] = `${last[1]} ${line.trim()}`.trim()
      continue
    }
    const field = headerLine.exec(line)
    if (field === null) return Either.left(new HttpResponseError({ reason: "MalformedHeader", detail: line }))
    headers.push([field[1]!, field[2]!])
  }
  return Either.right({ version: status[1]!, status: Number(status[2]), reason: status[3] ?? "", headers, bytes })
}

/**
 * Reads a response's final head with `read` (whose bytes may be kept: not a `readLent`): pulls
 * reads until a head is complete, skips it if it is an interim (1xx) one (at most
 * `maxInterimResponses` of them), and returns the final head with the bytes after it in its read
 * (the body's first, possibly none). Each head is read from the same reads, so interim heads cost
 * nothing once passed. Fails when a head is malformed, over `maxHeadBytes`, or cut off, or when
 * there are too many interim ones.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * // A connection's reads: an interim head, then the final one and the body's first bytes.
 * const reads = ["HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n\r\nhel"]
 *   .map((text) => new TextEncoder().encode(text))
 * const read = Effect.sync(() => reads.shift())
 * const [head, first] = Effect.runSync(HttpGet.Response.readHead()(read))
 * console.log(head.status, new TextDecoder().decode(first)) // 200 hel
 * ```
 *
 * @since 0.1.0
 */
export const readHead = (maxHeadBytes: number = defaultMaxHeadBytes, maxInterimResponses: number = defaultMaxInterimResponses) =>
<E, R>(read: Effect.Effect<Uint8Array | undefined, E, R>): Effect.Effect<[ResponseHead, Uint8Array], E | HttpResponseError, R> =>
  Effect.gen(function*() {
    // Bytes read and not yet scanned: what follows a head in its read is the next head, or the body.
    let unscanned: Uint8Array | undefined
    for (let interim = 0;; interim++) {
      const decoder = new HeadDecoder(maxHeadBytes)
      let head: ResponseHead | undefined
      while (head === undefined) {
        const bytes = unscanned ?? (yield* read)
        unscanned = undefined
        if (bytes === undefined) {
          return yield* new HttpResponseError({ reason: decoder.empty && interim === 0 ? "NoResponse" : "IncompleteHead" })
        }
        const bodyStart = decoder.push(bytes)
        if (bodyStart === -1) {
          if (decoder.tooLarge) return yield* new HttpResponseError({ reason: "HeadTooLarge", detail: String(maxHeadBytes) })
          continue
        }
        head = yield* parseHead(decoder.head())
        unscanned = bytes.subarray(bodyStart)
      }
      if (head.status >= 200) return [head, unscanned!]
      if (interim === maxInterimResponses) {
        return yield* new HttpResponseError({ reason: "TooManyInterimResponses", detail: String(maxInterimResponses) })
      }
    }
  })

/**
 * Splits a Stream of reads into the response's final head (see `readHead`) and its body, the
 * rest of the reads (pulled on demand, within the scope).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const reads = Stream.make("HTTP/1.1 200 OK\r\n\r\nhel", "lo").pipe(Stream.encodeText)
 * const program = Effect.gen(function*() {
 *   const [head, body] = yield* HttpGet.Response.split()(reads)
 *   return [head.status, yield* Stream.mkString(Stream.decodeText(body))] as const
 * })
 * console.log(Effect.runSync(Effect.scoped(program))) // [ 200, 'hello' ]
 * ```
 *
 * @since 0.1.0
 */
export const split = (maxHeadBytes: number = defaultMaxHeadBytes, maxInterimResponses: number = defaultMaxInterimResponses) =>
<E, R>(
  reads: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<[ResponseHead, Stream.Stream<Uint8Array, E, R>], E | HttpResponseError, Scope.Scope | R> =>
  Effect.gen(function*() {
    // A pull rather than Stream.peel: peel turns a failure of the reads after the head into a defect.
    const pull = yield* Stream.toPull(reads)
    // What the pull gave and `read` has not handed out yet.
    let pulled: Array<Uint8Array> = []
    const read: Effect.Effect<Uint8Array | undefined, E, R> = Effect.suspend(() =>
      pulled.length > 0 ? Effect.succeed(pulled.shift()) : Effect.matchEffect(pull, {
        onFailure: Option.match({ onNone: () => Effect.succeed(undefined), onSome: Effect.fail }),
        onSuccess: (chunk) => {
          pulled = Chunk.toArray(chunk)
          return read
        }
      })
    )
    const [head, first] = yield* readHead(maxHeadBytes, maxInterimResponses)(read)
    const rest = [first, ...pulled].filter((bytes) => bytes.length > 0)
    return [head, Stream.concat(Stream.fromIterable(rest), Stream.repeatEffectChunkOption(pull))]
  })
