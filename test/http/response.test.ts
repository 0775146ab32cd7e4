import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { HeadDecoder, header, headLines, parseHead, split } from "../../src/http/response.js"

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1")

const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Split: a\r\nx-split: b\r\n\r\n"
const response = head + "body\r\n\r\nmore"

/** The reads of `text` cut at the given offsets. */
const cut = (text: string, ...at: Array<number>) =>
  [0, ...at, text.length].slice(1).map((end, i, ends) => bytes(text.slice(i === 0 ? 0 : ends[i - 1], end)))

/** Splits `reads` with `split`: the head's bytes and status, and the body as text; or the error's message. */
const splitReads = (reads: ReadonlyArray<Uint8Array>, maxHeadBytes?: number, maxInterimResponses?: number) =>
  Effect.scoped(Effect.gen(function*() {
    const [head, body] = yield* split(maxHeadBytes, maxInterimResponses)(Stream.fromIterable(reads))
    const rest = yield* Stream.runCollect(body)
    return { head: text(head.bytes), status: head.status, body: Chunk.toReadonlyArray(rest).map(text).join("") }
  })).pipe(Effect.catchTag("HttpResponseError", (error) => Effect.succeed(error.message)))

describe("split", () => {
  it.effect("finds the head at every split point of a response, and leaves the body whole", () =>
    Effect.gen(function*() {
      for (let at = 0; at <= response.length; at++) {
        const result = yield* splitReads(cut(response, at))
        expect(result, `split at ${at}`).toEqual({ head, status: 200, body: "body\r\n\r\nmore" })
      }
    }))

  it.effect("finds the head when each byte comes in a read of its own", () =>
    Effect.map(splitReads(cut(response, ...Array.from({ length: response.length - 1 }, (_, i) => i + 1))), (result) =>
      expect(result).toEqual({ head, status: 200, body: "body\r\n\r\nmore" })))

  it.effect("takes the reads after the head's read as the body, in order", () =>
    Effect.map(splitReads([bytes(head + "a"), bytes("b"), bytes("c")]), (result) => expect(result).toMatchObject({ body: "abc" })))

  it.effect("accepts a head of exactly the limit and refuses one byte more", () =>
    Effect.gen(function*() {
      expect(yield* splitReads([bytes(response)], head.length)).toMatchObject({ head })
      expect(yield* splitReads([bytes(response)], head.length - 1)).toBe(
        `the response's header section is over ${head.length - 1} bytes; the server is not speaking HTTP, or is misbehaving`
      )
    }))

  it.effect("fails at the limit without waiting for the rest of an endless head", () =>
    Effect.map(splitReads([bytes("HTTP/1.1 200 OK\r\n"), bytes("X: y\r\n".repeat(20_000))]), (result) =>
      expect(result).toBe("the response's header section is over 65536 bytes; the server is not speaking HTTP, or is misbehaving")))

  it.effect("accepts heads whose lines end in a bare LF, or in a mix of LF and CRLF, at every split point", () =>
    Effect.gen(function*() {
      for (const lfHead of ["HTTP/1.1 200 OK\nA: b\n\n", "HTTP/1.1 200 OK\r\nA: b\n\r\n", "HTTP/1.1 200 OK\nA: b\r\n\n"]) {
        const lfResponse = lfHead + "body\n\nmore"
        for (let at = 0; at <= lfResponse.length; at++) {
          const result = yield* splitReads(cut(lfResponse, at))
          expect(result, `${JSON.stringify(lfHead)} split at ${at}`).toEqual({ head: lfHead, status: 200, body: "body\n\nmore" })
        }
      }
    }))

  it.effect("skips interim (1xx) heads, however the reads cut them, and keeps the body after the final head", () =>
    Effect.gen(function*() {
      const interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\nLink: </a.css>\n\n"
      for (let at = 0; at <= interim.length + 10; at++) {
        const result = yield* splitReads(cut(interim + response, at))
        expect(result, `split at ${at}`).toEqual({ head, status: 200, body: "body\r\n\r\nmore" })
      }
    }))

  it.effect("takes up to 100 interim heads by default, and refuses one more", () =>
    Effect.gen(function*() {
      const interim = (n: number) => "HTTP/1.1 103 Early Hints\r\n\r\n".repeat(n)
      expect(yield* splitReads([bytes(interim(100) + response)])).toMatchObject({ status: 200, body: "body\r\n\r\nmore" })
      expect(yield* splitReads([bytes(interim(101) + response)])).toBe(
        "more than 100 interim (1xx) responses before the final one; the server is misbehaving"
      )
      expect(yield* splitReads(cut(interim(3) + response, 40, 70), undefined, 2)).toBe(
        "more than 2 interim (1xx) responses before the final one; the server is misbehaving"
      )
    }))

  it.effect("says when the server closes before or during the head", () =>
    Effect.gen(function*() {
      expect(yield* splitReads([])).toBe("the server closed the connection without a response; is it an HTTP server?")
      expect(yield* splitReads([bytes("HTTP/1.1 200 OK\r\n")])).toBe(
        "the server closed the connection in the middle of the response's header section"
      )
    }))
})

describe("HeadDecoder", () => {
  it("carries a partial CRLFCRLF over reads, and does not mistake CR CR LF for it", () => {
    const decoder = new HeadDecoder()
    expect(decoder.push(bytes("HTTP/1.1 200 OK\r\n\r"))).toBe(-1)
    expect(decoder.push(bytes("\r\n"))).toBe(-1)
    expect(decoder.push(bytes("\r\nbody"))).toBe(2)
    expect(text(decoder.head())).toBe("HTTP/1.1 200 OK\r\n\r\r\n\r\n")
  })

  it("ends the head at an empty line, whether lines end in CRLF or a bare LF", () => {
    for (const [reads, end] of [[["HTTP/1.1 200 OK\n\nbody"], 17], [["HTTP/1.1 200 OK\n", "\r", "\nbody"], 1], [["HTTP/1.1 200 OK\r\n\r", "x\n\n"], 3]] as const) {
      const decoder = new HeadDecoder()
      const offsets = reads.map((read) => decoder.push(bytes(read)))
      expect(offsets.at(-1), JSON.stringify(reads)).toBe(end)
      expect(offsets.slice(0, -1).every((offset) => offset === -1)).toBe(true)
    }
  })
})

describe("parseHead", () => {
  const parse = (text: string) => Either.getOrThrow(parseHead(bytes(text)))
  const problem = (text: string) => Either.match(parseHead(bytes(text)), { onLeft: (error) => error.message, onRight: () => "parsed" })

  it("parses the status line and the headers, names looked up without regard to case", () => {
    const parsed = parse(head)
    expect(parsed).toMatchObject({ version: "HTTP/1.1", status: 200, reason: "OK" })
    expect(parsed.headers).toEqual([["Content-Type", "text/plain"], ["X-Split", "a"], ["x-split", "b"]])
    expect(header(parsed, "content-type")).toBe("text/plain")
    expect(header(parsed, "X-SPLIT")).toBe("a, b")
    expect(header(parsed, "missing")).toBeUndefined()
  })

  it("accepts an empty reason, HTTP/1.0, whitespace around values and a folded line", () => {
    expect(parse("HTTP/1.0 204\r\n\r\n")).toMatchObject({ version: "HTTP/1.0", status: 204, reason: "" })
    expect(parse("HTTP/1.1 404 Not  Found\r\n\r\n").reason).toBe("Not  Found")
    expect(parse("HTTP/1.1 200 OK\r\nA:  x y \t\r\n\r\n").headers).toEqual([["A", "x y"]])
    expect(parse("HTTP/1.1 200 OK\r\nA: one\r\n  two\r\nB: 3\r\n\r\n").headers).toEqual([["A", "one two"], ["B", "3"]])
  })

  it("parses a head whose lines end in a bare LF, and gives its lines as received", () => {
    const parsed = parse("HTTP/1.1 200 OK\nContent-Type: text/plain\r\nA: one\n  two\n\n")
    expect(parsed).toMatchObject({ status: 200, reason: "OK" })
    expect(parsed.headers).toEqual([["Content-Type", "text/plain"], ["A", "one two"]])
    expect(headLines(parsed)).toEqual(["HTTP/1.1 200 OK", "Content-Type: text/plain", "A: one", "  two"])
    expect(headLines(parse(head))).toEqual(["HTTP/1.1 200 OK", "Content-Type: text/plain", "X-Split: a", "x-split: b"])
  })

  it("refuses a bare CR inside a line", () => {
    expect(problem("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n")).toBe(`malformed header "A: b\\rc" in the server's response`)
  })

  it("refuses a malformed status line", () => {
    for (const line of ["HTTP/2 200 OK", "HTTP/1.1 2000 OK", "http/1.1 200 OK", "SSH-2.0-OpenSSH_9.6", "", "HTTP/1.1  200 OK"]) {
      expect(problem(`${line}\r\nA: b\r\n\r\n`), line).toBe(
        `malformed status line ${JSON.stringify(line)} (expected HTTP/1.x CODE REASON); is it an HTTP server (https:// for a TLS port)?`
      )
    }
  })

  it("refuses a malformed header line", () => {
    for (const line of ["no colon", ": no name", "Bad Name: x", "  folded first"]) {
      expect(problem(`HTTP/1.1 200 OK\r\n${line}\r\n\r\n`), line).toBe(
        `malformed header ${JSON.stringify(line)} in the server's response`
      )
    }
  })
})
