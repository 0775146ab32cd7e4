import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { decoder, frame, type Framing, LineDecoder, lines, type Message, rawMessage } from "../src/framing.js"

const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"))
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1")
const show = (messages: ReadonlyArray<Message>) => messages.map((m) => text(m.body) + "|" + JSON.stringify(text(m.terminator)))

/** Frames `reads` (each a separate read) with line framing; the messages, and the error if any. */
const frameLines = (reads: ReadonlyArray<string>, max = 8192) =>
  Stream.fromIterable(reads.map(bytes)).pipe(
    lines(max),
    Stream.runCollect,
    Effect.map((chunk) => Either.right(show(Chunk.toReadonlyArray(chunk)))),
    Effect.catchTag("LineTooLongError", (error) => Effect.succeed(Either.left(error.message)))
  )

describe("raw framing", () => {
  it("keeps a read whole and strips one trailing newline as the terminator", () => {
    expect(show([rawMessage(bytes("a\n\n"))])).toEqual(["a\n|\"\\n\""])
    expect(show([rawMessage(bytes("a\r\n"))])).toEqual(["a|\"\\r\\n\""])
    expect(show([rawMessage(bytes("a\nb"))])).toEqual(["a\nb|\"\""])
    expect(show([rawMessage(bytes("\n"))])).toEqual(["|\"\\n\""])
  })
})

describe("line framing", () => {
  it.effect("splits several messages in one read", () =>
    Effect.map(frameLines(["Michael\nTracy\nSarah\n"]), (result) =>
      expect(result).toEqual(Either.right(["Michael|\"\\n\"", "Tracy|\"\\n\"", "Sarah|\"\\n\""]))))

  it.effect("joins one message split over several reads", () =>
    Effect.map(frameLines(["Mi", "ch", "ael", "\nTra", "cy\n"]), (result) =>
      expect(result).toEqual(Either.right(["Michael|\"\\n\"", "Tracy|\"\\n\""]))))

  it.effect("drops the \\r of CRLF, also when CR and LF arrive in different reads", () =>
    Effect.map(frameLines(["Michael\r\n", "Tracy\r", "\n"]), (result) =>
      expect(result).toEqual(Either.right(["Michael|\"\\n\"", "Tracy|\"\\n\""]))))

  it.effect("emits an unterminated last line at end of input", () =>
    Effect.map(frameLines(["a\nb"]), (result) => expect(result).toEqual(Either.right(["a|\"\\n\"", "b|\"\\n\""]))))

  it.effect("accepts a line of exactly the limit, with or without CR", () =>
    Effect.map(frameLines(["12345\n", "1234", "5\r", "\n"], 5), (result) =>
      expect(result).toEqual(Either.right(["12345|\"\\n\"", "12345|\"\\n\""]))))

  it.effect("fails an over-long line after emitting the lines before it", () =>
    Effect.gen(function*() {
      const messages: Array<string> = []
      const result = yield* Stream.fromIterable([bytes("ok\n123456\n")]).pipe(
        lines(5),
        Stream.runForEach((m) => Effect.sync(() => messages.push(text(m.body)))),
        Effect.either
      )
      expect(messages).toEqual(["ok"])
      expect(Either.isLeft(result) && result.left.message).toBe("line too long (max 5 bytes)")
    }))

  it.effect("fails as soon as an unterminated line passes the limit, without waiting for its newline", () =>
    Effect.map(frameLines(["123", "456"], 5), (result) => expect(result).toEqual(Either.left("line too long (max 5 bytes)"))))

  it("holds at most one partial line of the limit (+1 for a CR) however the bytes arrive", () => {
    const decoder = new LineDecoder(4)
    const out: Array<Message> = []
    expect(decoder.push(bytes("abcd\r"), out)).toBeUndefined()
    expect(decoder.push(bytes("x"), out)?.message).toBe("line too long (max 4 bytes)")
  })
})

describe("frame and decoder", () => {
  // The fast loop (`TcpConnection.runMessages`) decodes with `decoder`, the Stream with `frame`:
  // the same messages (test/tcp/connection.test.ts checks the two over a real connection too).
  const input = "Ada\nGr" + "ace\r\n\nexit\nlast"
  const splits = [[input], input.split(""), ["Ada\nGr", "ace\r", "\n\nexit\nla", "st"]]
  for (const framing of ["raw", "line"] as const satisfies ReadonlyArray<Framing>) {
    for (const reads of splits) {
      it.effect(`give the same messages (${framing} framing, ${reads.length} reads)`, () =>
        Effect.gen(function*() {
          const framed = yield* Stream.fromIterable(reads.map(bytes)).pipe(frame(framing), Stream.runCollect)
          const decode = decoder(framing)
          const decoded: Array<Message> = []
          for (const read of reads) expect(decode.push(bytes(read), decoded)).toBeUndefined()
          const last = decode.flush()
          if (last !== undefined) decoded.push(last)
          expect(show(Chunk.toReadonlyArray(framed))).toEqual(show(decoded))
        }))
    }
  }
})
