/**
 * The head of an HTTP/1.x response: the bytes up to the first CRLFCRLF, found whatever the
 * read boundaries are (the blank line may span reads), then parsed into the status line and
 * the headers. `split` takes the head off a connection's reads and leaves the body as a Stream.
 */
import { Chunk, Effect, Either, Option, type Scope, Stream } from "effect"
import { concat, latin1 } from "../bytes.js"
import { HttpResponseError } from "./errors.js"

/** The limit on the header section (status line, headers and blank line), as common servers use. */
export const defaultMaxHeadBytes = 64 * 1024

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

/** A header's value, the name matched without regard to case; repeated fields are joined with `, `. */
export const header = (head: ResponseHead, name: string): string | undefined => {
  const wanted = name.toLowerCase()
  const values = head.headers.filter(([key]) => key.toLowerCase() === wanted).map(([, value]) => value)
  return values.length === 0 ? undefined : values.join(", ")
}

const CR = 0x0d
const LF = 0x0a
const blankLine = [CR, LF, CR, LF]

/**
 * Incremental search for the end of the head. Holds the head's bytes seen so far, never more
 * than `maxHeadBytes`; the body bytes after it stay in the read they came in.
 */
export class HeadDecoder {
  private readonly parts: Array<Uint8Array> = []
  private size = 0
  /** How many bytes of CRLFCRLF end what has been scanned: the match survives read boundaries. */
  private matched = 0

  constructor(readonly maxHeadBytes: number = defaultMaxHeadBytes) {}

  /** Scans `read`: the offset in it where the body starts once the head is complete, else -1. */
  push(read: Uint8Array): number {
    const limit = Math.min(read.length, this.maxHeadBytes - this.size)
    for (let i = 0; i < limit; i++) {
      const byte = read[i]
      this.matched = byte === blankLine[this.matched] ? this.matched + 1 : byte === CR ? 1 : 0
      if (this.matched === blankLine.length) {
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

  /** The head's bytes, through its blank line (once `push` found it). */
  head(): Uint8Array {
    return concat(...this.parts)
  }
}

const statusLine = /^(HTTP\/1\.\d) (\d{3})(?: (.*))?$/
const headerLine = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/

/** Parses a complete head (through its blank line). */
export const parseHead = (bytes: Uint8Array): Either.Either<ResponseHead, HttpResponseError> => {
  const [first = "", ...lines] = latin1(bytes.subarray(0, bytes.length - blankLine.length)).split("\r\n")
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
 * Splits a response into its head and its body: pulls reads until the head is complete, then
 * returns it with the body, the rest of the reads (pulled on demand, within the scope). Fails
 * when the head is malformed, over `maxHeadBytes`, or cut off.
 */
export const split = (maxHeadBytes: number = defaultMaxHeadBytes) =>
<E, R>(
  reads: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<[ResponseHead, Stream.Stream<Uint8Array, E, R>], E | HttpResponseError, Scope.Scope | R> =>
  Effect.gen(function*() {
    // A pull rather than Stream.peel: peel turns a failure of the reads after the head into a defect.
    const pull = yield* Stream.toPull(reads)
    const decoder = new HeadDecoder(maxHeadBytes)
    for (;;) {
      const chunk = yield* Effect.mapError(pull, Option.getOrElse(() =>
        new HttpResponseError({ reason: decoder.empty ? "NoResponse" : "IncompleteHead" })
      ))
      const pulled = Chunk.toReadonlyArray(chunk)
      for (let i = 0; i < pulled.length; i++) {
        const read = pulled[i]!
        const bodyStart = decoder.push(read)
        if (bodyStart !== -1) {
          const head = yield* parseHead(decoder.head())
          const rest = [read.subarray(bodyStart), ...pulled.slice(i + 1)].filter((bytes) => bytes.length > 0)
          return [head, Stream.concat(Stream.fromIterable(rest), Stream.repeatEffectChunkOption(pull))]
        }
        if (decoder.tooLarge) return yield* new HttpResponseError({ reason: "HeadTooLarge", detail: String(maxHeadBytes) })
      }
    }
  })
