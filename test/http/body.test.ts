import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { type BodyLength, bodyLength, ChunkedDecoder, chunked, contentLength, decode, run } from "../../src/http/body.js"
import { parseHead } from "../../src/http/response.js"

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1")

/** Runs a body transformation over reads: the body as text, or the error's message (with what came before it). */
const decodeReads = (
  transform: (reads: Stream.Stream<Uint8Array>) => Stream.Stream<Uint8Array, { readonly message: string }>,
  reads: ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    let body = ""
    const result = yield* transform(Stream.fromIterable(reads.map(bytes))).pipe(
      Stream.runForEach((chunk) => Effect.sync(() => (body += text(chunk)))),
      Effect.either
    )
    return Either.isRight(result) ? body : `${body}|${result.left.message}`
  })

/** Every way of cutting `text` in two, and one read per byte. */
const splits = (text: string): Array<Array<string>> => [
  ...Array.from({ length: text.length + 1 }, (_, at) => [text.slice(0, at), text.slice(at)]),
  [...text]
]

// Sizes in both cases, an extension, space before a CRLF, data holding CRLFs, trailers, and bytes after the end.
const message = "5\r\nhello\r\nB;name=value\r\n, chunked\r\n\r\na \r\n0123456789\r\n3\r\n!\r\n\r\n0\r\nTrailer: ignored\r\n\r\nAFTER"
const decoded = "hello, chunked\r\n0123456789!\r\n"
const raw = message.slice(0, -"AFTER".length)

describe("chunked", () => {
  it.effect("decodes at every split point, stopping at the end of the message", () =>
    Effect.gen(function*() {
      for (const reads of splits(message)) {
        expect(yield* decodeReads(chunked(), reads), JSON.stringify(reads)).toBe(decoded)
      }
    }))

  it.effect("raw: passes the chunked message as received at every split point, through its end", () =>
    Effect.gen(function*() {
      for (const reads of splits(message)) {
        expect(yield* decodeReads(chunked(true), reads), JSON.stringify(reads)).toBe(raw)
      }
    }))

  it.effect("fails with a truncation when the reads end before the last chunk", () =>
    Effect.gen(function*() {
      const truncated = "the body was truncated after 7 bytes: the connection closed before the last chunk; try again"
      expect(yield* decodeReads(chunked(), ["5\r\nhello\r\n5\r\nwo"])).toBe(`hellowo|${truncated}`)
      expect(yield* decodeReads(chunked(), ["5\r\nhello\r\n0\r\n"])).toBe(
        "hello|the body was truncated after 5 bytes: the connection closed before the last chunk; try again"
      )
    }))

  it.effect("fails on a malformed chunk size or a missing CRLF after the data", () =>
    Effect.gen(function*() {
      expect(yield* decodeReads(chunked(), ["zz\r\n"])).toBe('|malformed chunked body after 0 bytes: invalid chunk size line "zz"')
      expect(yield* decodeReads(chunked(), ["-1\r\n"])).toBe('|malformed chunked body after 0 bytes: invalid chunk size line "-1"')
      expect(yield* decodeReads(chunked(), ["\r\n"])).toBe('|malformed chunked body after 0 bytes: invalid chunk size line ""')
      expect(yield* decodeReads(chunked(), ["fffffffffffffffff\r\n"])).toBe(
        '|malformed chunked body after 0 bytes: invalid chunk size line "fffffffffffffffff"'
      )
      expect(yield* decodeReads(chunked(), ["3\r\nabcd\r\n"])).toBe(
        'abc|malformed chunked body after 3 bytes: no CRLF after a chunk\'s data (found "d")'
      )
    }))

  it.effect("refuses a chunk-size line that never ends instead of buffering it", () =>
    Effect.map(decodeReads(chunked(), ["1", "0".repeat(10_000)]), (result) =>
      expect(result).toBe("|malformed chunked body after 0 bytes: a line over 8192 bytes")))

  it("passes data through as views of the reads, not copies", () => {
    const read = bytes("5\r\nhello\r\n")
    const out: Array<Uint8Array> = []
    expect(new ChunkedDecoder().push(read, out)).toBe(false)
    expect(out).toHaveLength(1)
    expect(out[0]!.buffer).toBe(read.buffer)
  })
})

describe("contentLength", () => {
  it.effect("stops at the length, whatever comes after it", () =>
    Effect.gen(function*() {
      expect(yield* decodeReads(contentLength(5), ["hel", "lo, world"])).toBe("hello")
      expect(yield* decodeReads(contentLength(5), ["hello"])).toBe("hello")
    }))

  it.effect("fails with 'truncated after N of M bytes' when the reads end early", () =>
    Effect.map(decodeReads(contentLength(10), ["hel", "lo"]), (result) =>
      expect(result).toBe("hello|the body was truncated after 5 of 10 bytes: the connection closed early; try again")))

  it.effect("does not read past the body", () =>
    Effect.gen(function*() {
      let pulled = 0
      const reads = Stream.fromIterable(["hello", "never"].map(bytes)).pipe(Stream.tap(() => Effect.sync(() => pulled++)))
      const body = yield* Stream.runCollect(contentLength(5)(reads))
      expect(Chunk.toReadonlyArray(body).map(text)).toEqual(["hello"])
      expect(pulled).toBe(1)
    }))
})

describe("run", () => {
  /** Runs `run` over `first` and then `reads`: the body as text, or the error's message (with what came before it); and how many reads it took. */
  const runReads = (length: BodyLength, raw: boolean, first: string, reads: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const left = reads.map(bytes)
      let taken = 0
      let body = ""
      const read = Effect.sync(() => left.length === 0 ? undefined : (taken++, left.shift()))
      const result = yield* Effect.either(run(length, raw)(bytes(first), read, (piece) => Effect.sync(() => (body += text(piece)))))
      return { body: Either.isRight(result) ? body : `${body}|${result.left.message}`, taken }
    })

  const cases: ReadonlyArray<[string, BodyLength, boolean, string]> = [
    ["chunked", { _tag: "Chunked" }, false, message],
    ["chunked, raw", { _tag: "Chunked" }, true, message],
    ["chunked, truncated", { _tag: "Chunked" }, false, "5\r\nhello\r\n5\r\nwo"],
    ["chunked, malformed", { _tag: "Chunked" }, false, "3\r\nabcd\r\n"],
    ["Content-Length", { _tag: "Length", length: 12 }, false, "hello, world and more"],
    ["Content-Length, truncated", { _tag: "Length", length: 12 }, false, "hello"],
    ["until the close", { _tag: "UntilClose" }, false, "hello, world"]
  ]

  it.effect("gives what decode gives, error included, at every split point and for every kind of body", () =>
    Effect.gen(function*() {
      for (const [name, length, raw, input] of cases) {
        for (const reads of splits(input)) {
          const streamed = yield* decodeReads(decode(length, raw), reads)
          expect((yield* runReads(length, raw, "", reads)).body, `${name}: ${JSON.stringify(reads)}`).toBe(streamed)
          // The bytes that came with the head first.
          const [first = "", ...rest] = reads
          expect((yield* runReads(length, raw, first, rest)).body, `${name}, first ${JSON.stringify(first)}`).toBe(streamed)
        }
      }
    }))

  it.effect("reads nothing past the body, and nothing at all for an empty one", () =>
    Effect.gen(function*() {
      expect(yield* runReads({ _tag: "Length", length: 5 }, false, "", ["hello", "never"])).toEqual({ body: "hello", taken: 1 })
      expect(yield* runReads({ _tag: "Length", length: 5 }, false, "hello", ["never"])).toEqual({ body: "hello", taken: 0 })
      expect(yield* runReads({ _tag: "Chunked" }, false, "", ["0\r\n\r\n", "never"])).toEqual({ body: "", taken: 1 })
      expect(yield* runReads({ _tag: "Length", length: 0 }, false, "", ["never"])).toEqual({ body: "", taken: 0 })
    }))

  it.live("reads on only once the Effect of the last piece is done", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const reads = ["5\r\nhello\r\n", "5\r\nworld\r\n0\r\n\r\n"].map(bytes)
      const read = Effect.sync(() => {
        events.push("read")
        return reads.shift()
      })
      const onPiece = (piece: Uint8Array) =>
        Effect.zipRight(Effect.sleep("10 millis"), Effect.sync(() => events.push(`wrote ${text(piece)}`)))
      yield* run({ _tag: "Chunked" }, false)(bytes(""), read, onPiece)
      expect(events).toEqual(["read", "wrote hello", "read", "wrote world"])
    }))
})

describe("bodyLength", () => {
  const lengthOf = (head: string) =>
    Either.flatMap(parseHead(bytes(`${head}\r\n\r\n`)), bodyLength).pipe(Either.match({ onLeft: (e) => e.message, onRight: (l) => l }))

  it("takes chunked over Content-Length, and the close when nothing says", () => {
    expect(lengthOf("HTTP/1.1 200 OK\r\nContent-Length: 12")).toEqual({ _tag: "Length", length: 12 })
    expect(lengthOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 12")).toEqual({ _tag: "Chunked" })
    expect(lengthOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked")).toEqual({ _tag: "Chunked" })
    expect(lengthOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip")).toEqual({ _tag: "UntilClose" })
    expect(lengthOf("HTTP/1.1 200 OK")).toEqual({ _tag: "UntilClose" })
    expect(lengthOf("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7")).toEqual({ _tag: "Length", length: 7 })
  })

  it("knows that 204 and 304 have no body", () => {
    expect(lengthOf("HTTP/1.1 204 No Content\r\nContent-Length: 12")).toEqual({ _tag: "Length", length: 0 })
    expect(lengthOf("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked")).toEqual({ _tag: "Length", length: 0 })
  })

  it("refuses a Content-Length that is not one number", () => {
    for (const value of ["abc", "-1", "1.5", "7, 8", "", "99999999999999999999"]) {
      expect(lengthOf(`HTTP/1.1 200 OK\r\nContent-Length: ${value}`), value).toBe(
        `malformed header ${JSON.stringify(`Content-Length: ${value}`)} in the server's response`
      )
    }
  })
})
