import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, ParseResult, Schema } from "effect"
import { FrameDecodeError, FrameTruncatedError, Framing, LineTooLongError } from "effect-net"
import { decode, splits } from "../helpers/framing.js"

const Message = Schema.Struct({
  id: Schema.Int,
  name: Schema.String,
  tags: Schema.Array(Schema.String),
  reply: Schema.optional(Schema.Union(Schema.Literal("ok"), Schema.Struct({ error: Schema.String })))
})
const messages = FastCheck.array(Arbitrary.make(Message), { maxLength: 6 })

/** Each framing with its encoder: the same options on both sides. */
const framings = [
  { name: "length-prefixed", decoder: () => Framing.lengthPrefixed({ lengthBytes: 2 }), encode: Framing.encodeLengthPrefixed({ lengthBytes: 2 }) },
  { name: "delimited", decoder: () => Framing.delimited({ delimiter: "\0", maxFrameBytes: 1 << 16 }), encode: Framing.encodeDelimited({ delimiter: "\0", maxFrameBytes: 1 << 16 }) }
] as const

const utf8 = (text: string) => new TextEncoder().encode(text)

describe("schemaJson, arbitrary messages", () => {
  for (const { decoder, encode, name } of framings) {
    it.prop(
      `decodes what encodeSchemaJson encodes, however the frames are cut into reads (${name})`,
      [messages.chain((values) => {
        const encodeMessage = Framing.encodeSchemaJson(Message, encode)
        const stream = Buffer.concat(values.map((value) => Either.getOrThrow(encodeMessage(value))))
        return splits(stream).map((reads) => ({ values, reads }))
      })],
      ([{ reads, values }]) => {
        const decoded = decode(Framing.schemaJson(Message, decoder()), reads)
        expect(decoded.error).toBeUndefined()
        expect(decoded.frames).toEqual(values)
      },
      { fastCheck: { numRuns: 200 } }
    )
  }

  it.prop(
    "fails the first frame that is not a message, naming it, after the messages before it",
    [messages, FastCheck.string({ maxLength: 40 }), messages],
    ([before, bad, after]) => {
      const encodeMessage = Framing.encodeSchemaJson(Message, Framing.encodeLengthPrefixed())
      const frame = Either.getOrThrow(Framing.encodeLengthPrefixed()(utf8(bad)))
      const stream = Buffer.concat([...before.map((value) => Either.getOrThrow(encodeMessage(value))), frame, ...after.map((value) => Either.getOrThrow(encodeMessage(value)))])
      const decoded = decode(Framing.schemaJson(Message, Framing.lengthPrefixed()), [stream])
      expect(decoded.frames).toEqual(before)
      expect(decoded.error).toMatchObject({ _tag: "FrameDecodeError", frame: before.length })
      expect((decoded.error as FrameDecodeError).cause).toBeInstanceOf(ParseResult.ParseError)
    },
    { fastCheck: { numRuns: 200 } }
  )
})

describe("schemaJson", () => {
  it("names a bad frame by its index on the connection and a short escaped preview, with the ParseError as cause", () => {
    const decoder = Framing.schemaJson(Message, Framing.lines())
    const out: Array<typeof Message.Type> = []
    expect(decoder.push(utf8("{\"id\":1,\"name\":\"a\",\"tags\":[]}\n"), out)).toBeUndefined()
    const error = decoder.push(utf8(`{"id":2,"name":"\u001b]0;title\u0007 ${"x".repeat(40)}"}\n`), out)
    expect(out).toEqual([{ id: 1, name: "a", tags: [] }])
    expect(error).toBeInstanceOf(FrameDecodeError)
    // The first 32 bytes, their control characters escaped (a terminal would act on them).
    const preview = String.raw`"{\"id\":2,\"name\":\"\u001b]0;title\u0007 xxxxx"…`
    expect(error).toMatchObject({ frame: 1, preview })
    expect(error?.message).toBe(`frame 1 does not decode: ${preview}`)
    expect(decoder.push(utf8("not json\n"), [])).toMatchObject({ frame: 2, preview: "\"not json\"", cause: expect.any(ParseResult.ParseError) })
  })

  it("passes on the framing's errors, after the messages before them", () => {
    const lines = Framing.schemaJson(Schema.Number, Framing.lines({ maxLineBytes: 3 }))
    const out: Array<number> = []
    expect(lines.push(utf8("1\n22\n4444\n"), out)).toEqual(new LineTooLongError({ maxLineBytes: 3 }))
    expect(out).toEqual([1, 22])
    const truncated = Framing.schemaJson(Schema.Number, Framing.lengthPrefixed({ lengthBytes: 1 }))
    expect(decode(truncated, [Uint8Array.of(1, 0x37, 2, 0x38)])).toMatchObject({ frames: [7], error: new FrameTruncatedError({ pending: 2 }) })
    expect(truncated.pending).toBe(2)
  })

  it("decodes the last frame a flush completes", () => {
    expect(decode(Framing.schemaJson(Schema.String, Framing.lines()), [utf8("\"a\"\n\"b\"")]).frames).toEqual(["a", "b"])
  })

  it("encodes with the Schema's encoding side, and refuses a value it cannot encode or the framing refuses", () => {
    const Dated = Schema.Struct({ at: Schema.DateFromString, count: Schema.Int })
    const encode = Framing.encodeSchemaJson(Dated, Framing.encodeDelimited({ delimiter: "\n", maxFrameBytes: 60 }))
    const at = new Date("2024-01-02T03:04:05.000Z")
    expect(Either.map(encode({ at, count: 2 }), (bytes) => new TextDecoder().decode(bytes)))
      .toEqual(Either.right("{\"at\":\"2024-01-02T03:04:05.000Z\",\"count\":2}\n"))
    expect(Either.flip(encode({ at, count: 1.5 }))).toMatchObject({ right: { _tag: "ParseError" } })
    const tooLarge = Framing.encodeSchemaJson(Schema.String, Framing.encodeLengthPrefixed({ lengthBytes: 1 }))
    expect(Either.flip(tooLarge("x".repeat(300)))).toMatchObject({ right: { _tag: "FrameTooLargeError", length: 302 } })
  })
})
