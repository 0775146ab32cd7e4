import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { FrameDelimiterError, FrameTooLargeError, FrameTruncatedError, Framing } from "effect-net"
import { bytes, bytesOf, decode, splits, tagOf, text, withSplits } from "../helpers/framing.js"

// A small alphabet, so that delimiters occur, overlap themselves ("aba") and begin without ending.
const alphabet = [0x61, 0x62, 0x63]
const delimiters = bytesOf([0x61, 0x62], 4).filter((delimiter) => delimiter.length > 0)
const caps = FastCheck.integer({ min: 0, max: 12 })

const startsWith = (bytes: Uint8Array, prefix: Uint8Array) => text(bytes).startsWith(text(prefix))

/**
 * What delimited framing means, computed on the whole input at once: the frames before each
 * delimiter (leftmost first); a frame over the cap fails, as does the rest once it is over the
 * cap and does not end with the beginning of a delimiter after a frame within the cap; at the
 * end, the rest is a truncated frame, or with `acceptUnterminated` a frame.
 */
const reference = (input: Uint8Array, delimiter: Uint8Array, maxFrameBytes: number, acceptUnterminated: boolean) => {
  const parts = text(input).split(text(delimiter))
  const rest = parts.pop()!
  const frames: Array<string> = []
  for (const part of parts) {
    if (part.length > maxFrameBytes) return { frames, error: "FrameTooLargeError" }
    frames.push(part)
  }
  const over = rest.length - maxFrameBytes
  const delimiterStarts = Array.from({ length: delimiter.length - over }, (_, i) => over + i)
    .some((length) => length <= rest.length && rest.endsWith(text(delimiter).slice(0, length)))
  if (over > 0 && !delimiterStarts) return { frames, error: "FrameTooLargeError" }
  if (rest.length === 0) return { frames, error: undefined }
  if (!acceptUnterminated) return { frames, error: "FrameTruncatedError" }
  if (over > 0) return { frames, error: "FrameTooLargeError" }
  return { frames: [...frames, rest], error: undefined }
}

describe("delimited, arbitrary input", () => {
  it.prop(
    "gives the frames of the whole input however it is cut into reads, failing where it must, after the frames before",
    [delimiters, caps, FastCheck.boolean(), withSplits(bytesOf(alphabet, 60))],
    ([delimiter, maxFrameBytes, acceptUnterminated, [whole, reads]]) => {
      const decoded = decode(Framing.delimited({ delimiter, maxFrameBytes, acceptUnterminated }), reads)
      expect({ frames: decoded.frames.map((frame) => text(frame.body)), error: tagOf(decoded.error) })
        .toEqual(reference(whole, delimiter, maxFrameBytes, acceptUnterminated))
      // Each frame's terminator is its delimiter, but for an unterminated last one.
      const terminators = decoded.frames.map((frame) => text(frame.terminator))
      expect(terminators.slice(0, -1).every((terminator) => terminator === text(delimiter))).toBe(true)
      expect(["", text(delimiter), undefined]).toContain(terminators.at(-1))
      // A frame of the cap may wait for the rest of its delimiter.
      expect(decoded.maxPending).toBeLessThanOrEqual(maxFrameBytes + delimiter.length - 1)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "decodes what encodeDelimited encodes however it is cut, and refuses exactly the payloads that would not decode as themselves",
    [delimiters, caps, FastCheck.array(bytesOf(alphabet, 14), { maxLength: 6 })],
    ([delimiter, maxFrameBytes, payloads]) => {
      const encode = Framing.encodeDelimited({ delimiter, maxFrameBytes })
      const accepted: Array<Uint8Array> = []
      const encoded: Array<Uint8Array> = []
      for (const payload of payloads) {
        const frame = encode(payload)
        const alone = decode(Framing.delimited({ delimiter, maxFrameBytes }), [Buffer.concat([payload, delimiter])])
        const decodesAsItself = alone.error === undefined && alone.frames.length === 1 && text(alone.frames[0]!.body) === text(payload)
        expect(Either.isRight(frame)).toBe(decodesAsItself)
        if (Either.isRight(frame)) {
          accepted.push(payload)
          encoded.push(frame.right)
        } else {
          expect(frame.left._tag).toBe(payload.length > maxFrameBytes ? "FrameTooLargeError" : "FrameDelimiterError")
        }
      }
      FastCheck.assert(
        FastCheck.property(splits(Buffer.concat(encoded)), (reads) => {
          const decoded = decode(Framing.delimited({ delimiter, maxFrameBytes }), reads)
          expect(decoded.error).toBeUndefined()
          expect(decoded.frames.map((frame) => text(frame.body))).toEqual(accepted.map(text))
          expect(decoded.frames.every((frame) => startsWith(frame.terminator, delimiter) && frame.terminator.length === delimiter.length)).toBe(true)
        }),
        { numRuns: 5 }
      )
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("delimited", () => {
  const frames = (options: Framing.DelimitedOptions, ...reads: ReadonlyArray<string>) => {
    const decoded = decode(Framing.delimited(options), reads.map(bytes))
    return { frames: decoded.frames.map((frame) => text(frame.body)), error: decoded.error, maxPending: decoded.maxPending }
  }

  it("has the documented defaults: a cap of 8192 bytes, an unterminated last frame truncated", () => {
    expect(Framing.defaults.delimited).toEqual({ maxFrameBytes: 8192, acceptUnterminated: false })
    expect(frames({ delimiter: "\0" }, "x".repeat(8192) + "\0").frames).toEqual(["x".repeat(8192)])
    expect(frames({ delimiter: "\0" }, "x".repeat(8193)).error).toEqual(new FrameTooLargeError({ maxFrameBytes: 8192 }))
    expect(frames({ delimiter: "\0" }, "a\0b").error).toEqual(new FrameTruncatedError({ pending: 1 }))
    const decoder = Framing.delimited({ delimiter: "\0" })
    expect(decoder).not.toBe(Framing.delimited({ delimiter: "\0" }))
  })

  it("finds a delimiter split across reads, and one that overlaps itself", () => {
    expect(frames({ delimiter: "\r\n\r\n" }, "one\r", "\n", "\r", "\ntwo\r\n\r", "\n")).toMatchObject({ frames: ["one", "two"], error: undefined })
    expect(frames({ delimiter: "aab" }, "xa", "a", "ab", "aaab")).toMatchObject({ frames: ["xa", "a"], error: undefined })
    expect(frames({ delimiter: "aab" }, "xaaa", "b")).toMatchObject({ frames: ["xa"], error: undefined })
    // Under a small cap, what is held may be all the beginning of a delimiter.
    expect(frames({ delimiter: "aba", maxFrameBytes: 1 }, "ab", "a")).toMatchObject({ frames: [""], error: undefined })
  })

  it("gives empty frames between delimiters, and the delimiter as each frame's terminator", () => {
    const decoded = decode(Framing.delimited({ delimiter: "||" }), [bytes("||a||||")])
    expect(decoded.frames.map((frame) => text(frame.body))).toEqual(["", "a", ""])
    expect(decoded.frames.map((frame) => text(frame.terminator))).toEqual(["||", "||", "||"])
  })

  it("fails as soon as a frame is over the cap without its delimiter, holding at most the beginning of one more", () => {
    expect(frames({ delimiter: "\r\n", maxFrameBytes: 3 }, "ok\r\n", "abc\r", "\n")).toMatchObject({ frames: ["ok", "abc"], maxPending: 4 })
    expect(frames({ delimiter: "\r\n", maxFrameBytes: 3 }, "ok\r\n", "abcd")).toMatchObject({ frames: ["ok"], error: new FrameTooLargeError({ maxFrameBytes: 3 }) })
    expect(frames({ delimiter: "\r\n", maxFrameBytes: 3 }, "abc\rx")).toMatchObject({ error: new FrameTooLargeError({ maxFrameBytes: 3 }) })
    const known = frames({ delimiter: "\r\n", maxFrameBytes: 3 }, "ab\r\nabcd\r\n")
    expect(known).toMatchObject({ frames: ["ab"], error: new FrameTooLargeError({ length: 4, maxFrameBytes: 3 }) })
    expect(known.error).toHaveProperty("message", "frame too large (4 bytes, max 3)")
  })

  it("with acceptUnterminated, gives an unterminated last frame with an empty terminator", () => {
    const decoded = decode(Framing.delimited({ delimiter: "\0", acceptUnterminated: true }), [bytes("a\0b")])
    expect(decoded.frames.map((frame) => [text(frame.body), frame.terminator.length])).toEqual([["a", 1], ["b", 0]])
    expect(decoded.error).toBeUndefined()
    expect(frames({ delimiter: "\r\n", maxFrameBytes: 2, acceptUnterminated: true }, "ab\r").error)
      .toEqual(new FrameTooLargeError({ length: 3, maxFrameBytes: 2 }))
  })

  it("takes a string delimiter as its UTF-8 bytes, and refuses an empty one", () => {
    const decoded = decode(Framing.delimited({ delimiter: "§" }), [new TextEncoder().encode("a§b§")])
    expect(decoded.frames.map((frame) => new TextDecoder().decode(frame.body))).toEqual(["a", "b"])
    expect(() => Framing.delimited({ delimiter: "" })).toThrow(RangeError)
    expect(() => Framing.encodeDelimited({ delimiter: new Uint8Array(0) })).toThrow(RangeError)
  })

  it("encodes a payload with its delimiter, refusing one that holds it, begins it at its end, or is over the cap", () => {
    const encode = Framing.encodeDelimited({ delimiter: "aba", maxFrameBytes: 4 })
    expect(Either.map(encode(bytes("xy")), text)).toEqual(Either.right("xyaba"))
    expect(Either.map(encode(bytes("")), text)).toEqual(Either.right("aba"))
    expect(Either.flip(encode(bytes("xaba")))).toEqual(Either.right(new FrameDelimiterError({ index: 1 })))
    expect(Either.flip(encode(bytes("xab")))).toEqual(Either.right(new FrameDelimiterError({ index: 1 })))
    expect(Either.flip(encode(bytes("xxxxx")))).toEqual(Either.right(new FrameTooLargeError({ length: 5, maxFrameBytes: 4 })))
  })
})
