import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck, Stream } from "effect"
import { Framing } from "effect-net"
import { bytes, bytesOf, decode, splits, tagOf, text, withSplits } from "../helpers/framing.js"

const show = (messages: ReadonlyArray<Framing.Message>) => messages.map((m) => text(m.body) + "|" + JSON.stringify(text(m.terminator)))

/** Frames `reads` (each a separate read) with line framing; the messages, and the error if any. */
const frameLines = (reads: ReadonlyArray<string>, max = 8192) =>
  Stream.fromIterable(reads.map(bytes)).pipe(
    Framing.frame(() => Framing.lines({ maxLineBytes: max })),
    Stream.runCollect,
    Effect.map((chunk) => Either.right(show(Chunk.toReadonlyArray(chunk)))),
    Effect.catchTag("LineTooLongError", (error) => Effect.succeed(Either.left(error.message)))
  )

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
        Framing.frame(() => Framing.lines({ maxLineBytes: 5 })),
        Stream.runForEach((m) => Effect.sync(() => messages.push(text(m.body)))),
        Effect.either
      )
      expect(messages).toEqual(["ok"])
      expect(Either.isLeft(result) && result.left.message).toBe("line too long (max 5 bytes)")
    }))

  it.effect("fails as soon as an unterminated line passes the limit, without waiting for its newline", () =>
    Effect.map(frameLines(["123", "456"], 5), (result) => expect(result).toEqual(Either.left("line too long (max 5 bytes)"))))

  it("holds at most one partial line of the limit (+1 for a CR) however the bytes arrive", () => {
    const decoder = Framing.lines({ maxLineBytes: 4 })
    const out: Array<Framing.Message> = []
    expect(decoder.push(bytes("abcd\r"), out)).toBeUndefined()
    expect(decoder.push(bytes("x"), out)?.message).toBe("line too long (max 4 bytes)")
  })

  it("makes a new decoder each time, with the documented default limit", () => {
    expect(Framing.lines()).not.toBe(Framing.lines())
    expect(Framing.defaults.lines.maxLineBytes).toBe(8192)
    const decoder = Framing.lines()
    expect(decoder.push(bytes("x".repeat(8192)), [])).toBeUndefined()
    expect(decoder.push(bytes("x"), [])?.message).toBe("line too long (max 8192 bytes)")
  })
})

/**
 * What line framing means, computed on the whole input at once: each line without its `\n` and
 * one `\r` before it, the unterminated last one too; the first line over the limit fails.
 */
const reference = (input: Uint8Array, maxLineBytes: number) => {
  const lines = text(input).split("\n")
  if (lines.at(-1) === "") lines.pop()
  const frames: Array<string> = []
  for (const line of lines) {
    const body = line.endsWith("\r") ? line.slice(0, -1) : line
    if (body.length > maxLineBytes) return { frames, error: "LineTooLongError" }
    frames.push(body)
  }
  return { frames, error: undefined }
}

describe("line framing, arbitrary input", () => {
  const input = bytesOf([0x61, 0x62, 0x0d, 0x0a], 120)

  it.prop(
    "gives the lines of the whole input however it is cut into reads, and fails on the first line over the limit after the lines before it",
    [withSplits(input), FastCheck.integer({ min: 0, max: 12 })],
    ([[whole, reads], maxLineBytes]) => {
      const decoded = decode(Framing.lines({ maxLineBytes }), reads)
      expect({ frames: decoded.frames.map((m) => text(m.body)), error: tagOf(decoded.error) }).toEqual(reference(whole, maxLineBytes))
      // A line of the limit may wait for the `\n` after its `\r`.
      expect(decoded.maxPending).toBeLessThanOrEqual(maxLineBytes + 1)
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "frames any bytes the same in one read and in any other cut",
    [withSplits(bytesOf([0x61, 0x0d, 0x0a, 0x00, 0xff], 300)).chain(([whole, reads]) => splits(whole).map((other) => [reads, other] as const))],
    ([[reads, other]]) => {
      const one = decode(Framing.lines({ maxLineBytes: 16 }), reads)
      const two = decode(Framing.lines({ maxLineBytes: 16 }), other)
      expect(show(two.frames)).toEqual(show(one.frames))
      expect(tagOf(two.error)).toBe(tagOf(one.error))
    },
    { fastCheck: { numRuns: 300 } }
  )
})
