import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { Framing, FrameLengthError, FrameTooLargeError, FrameTruncatedError } from "effect-net"
import { bytesOf, decode, splits, tagOf, withSplits } from "../helpers/framing.js"

const options: FastCheck.Arbitrary<Framing.LengthPrefixedOptions & { readonly lengthBytes: 1 | 2 | 4 | 8; readonly maxFrameBytes: number }> =
  FastCheck.record({
    lengthBytes: FastCheck.constantFrom(1, 2, 4, 8),
    littleEndian: FastCheck.boolean(),
    lengthIncludesHeader: FastCheck.boolean(),
    maxFrameBytes: FastCheck.integer({ min: 0, max: 300 })
  })

const payloads = FastCheck.array(FastCheck.uint8Array({ maxLength: 300 }), { maxLength: 8 })

/** The frames `encode` accepts, one after another, and those payloads. */
const encodeAll = (encode: (payload: Uint8Array) => Either.Either<Uint8Array, FrameTooLargeError>, all: ReadonlyArray<Uint8Array>) => {
  const accepted = all.filter((payload) => Either.isRight(encode(payload)))
  return { accepted, stream: Buffer.concat(accepted.map((payload) => Either.getOrThrow(encode(payload)))) }
}

const bodies = (frames: ReadonlyArray<Framing.Message>) => frames.map((frame) => Array.from(frame.body))

describe("lengthPrefixed, arbitrary frames", () => {
  it.prop(
    "decodes what encodeLengthPrefixed encodes, for every option, however the bytes are cut into reads",
    [options.chain((options) => payloads.map((all) => ({ options, all }))).chain(({ options, all }) => {
      const { accepted, stream } = encodeAll(Framing.encodeLengthPrefixed(options), all)
      return splits(stream).map((reads) => ({ options, all, accepted, reads }))
    })],
    ([{ options, all, accepted, reads }]) => {
      const decoded = decode(Framing.lengthPrefixed(options), reads)
      expect(decoded.error).toBeUndefined()
      expect(bodies(decoded.frames)).toEqual(accepted.map((payload) => Array.from(payload)))
      expect(decoded.frames.every((frame) => frame.terminator.length === 0)).toBe(true)
      expect(decoded.maxPending).toBeLessThanOrEqual(options.maxFrameBytes + options.lengthBytes)
      // What the encoder refused is what the decoder would: over the cap, or more than the header can announce.
      const announceable = 256 ** options.lengthBytes - 1 - (options.lengthIncludesHeader ? options.lengthBytes : 0)
      for (const payload of all) {
        expect(accepted.includes(payload)).toBe(payload.length <= Math.min(options.maxFrameBytes, announceable))
      }
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "frames any bytes the same in one read and in any other cut: the same frames, then the same error",
    [options, withSplits(bytesOf([0, 1, 2, 3, 255], 200))],
    ([options, [whole, reads]]) => {
      const one = decode(Framing.lengthPrefixed(options), [whole])
      const other = decode(Framing.lengthPrefixed(options), reads)
      expect(bodies(other.frames)).toEqual(bodies(one.frames))
      expect(tagOf(other.error)).toBe(tagOf(one.error))
      expect(other.maxPending).toBeLessThanOrEqual(options.maxFrameBytes + options.lengthBytes)
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop(
    "fails a frame announced over the cap before holding any of it, after the frames before it",
    [FastCheck.tuple(options, payloads, FastCheck.integer({ min: 1, max: 1000 })).chain(([options, all, excess]) => {
      const { accepted, stream } = encodeAll(Framing.encodeLengthPrefixed(options), all)
      const large = options.maxFrameBytes + excess
      const announced = Math.min(large + (options.lengthIncludesHeader ? options.lengthBytes : 0), 256 ** options.lengthBytes - 1)
      const header = new Uint8Array(options.lengthBytes)
      for (let i = 0, n = announced; i < options.lengthBytes; i++, n = Math.floor(n / 256)) {
        header[options.littleEndian ? i : options.lengthBytes - 1 - i] = n % 256
      }
      // The frames, then a header whose body never comes: the header alone is refused.
      const payload = announced - (options.lengthIncludesHeader ? options.lengthBytes : 0)
      return splits(Buffer.concat([stream, header])).map((reads) => ({ options, accepted, payload, reads }))
    })],
    ([{ options, accepted, payload, reads }]) => {
      const decoded = decode(Framing.lengthPrefixed(options), reads)
      expect(bodies(decoded.frames)).toEqual(accepted.map((payload) => Array.from(payload)))
      expect(decoded.error).toEqual(
        payload > options.maxFrameBytes
          ? new FrameTooLargeError({ length: payload, maxFrameBytes: options.maxFrameBytes })
          : new FrameTruncatedError({ pending: options.lengthBytes })
      )
      expect(decoded.maxPending).toBeLessThanOrEqual(options.maxFrameBytes + options.lengthBytes)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "fails input cut inside a frame from flush, with the bytes held of it, after the frames before it",
    [options, payloads.filter((all) => all.length > 0), FastCheck.nat(), FastCheck.nat()],
    ([options, all, cut, split]) => {
      const encode = Framing.encodeLengthPrefixed(options)
      const { accepted, stream } = encodeAll(encode, all)
      if (accepted.length === 0) return
      const lastFrame = options.lengthBytes + accepted.at(-1)!.length
      const held = 1 + cut % (lastFrame - 1 || 1)
      if (held >= lastFrame) return
      const input = stream.subarray(0, stream.length - lastFrame + held)
      const at = split % (input.length + 1)
      const decoded = decode(Framing.lengthPrefixed(options), [input.subarray(0, at), input.subarray(at)])
      expect(bodies(decoded.frames)).toEqual(accepted.slice(0, -1).map((payload) => Array.from(payload)))
      expect(decoded.error).toEqual(new FrameTruncatedError({ pending: held }))
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("lengthPrefixed", () => {
  const frames = (options: Framing.LengthPrefixedOptions, ...reads: ReadonlyArray<ReadonlyArray<number>>) =>
    decode(Framing.lengthPrefixed(options), reads.map((read) => Uint8Array.from(read)))

  it("has the documented defaults: a 4-byte big-endian length of the payload, up to 1 MiB", () => {
    expect(Framing.defaults.lengthPrefixed).toEqual({ lengthBytes: 4, littleEndian: false, maxFrameBytes: 1024 * 1024, lengthIncludesHeader: false })
    expect(bodies(frames({}, [0, 0, 1, 0, ...new Array(256).fill(7)]).frames)).toEqual([new Array(256).fill(7)])
    expect(frames({}, [0, 16, 0, 1]).error).toEqual(new FrameTooLargeError({ length: 1024 * 1024 + 1, maxFrameBytes: 1024 * 1024 }))
    expect(Framing.lengthPrefixed()).not.toBe(Framing.lengthPrefixed())
  })

  it("decodes empty payloads (a length of 0), and encodes them as a header alone", () => {
    expect(bodies(frames({ lengthBytes: 2 }, [0, 0, 0, 0, 0, 1, 9, 0, 0]).frames)).toEqual([[], [], [9], []])
    expect(Either.getOrThrow(Framing.encodeLengthPrefixed({ lengthBytes: 2 })(new Uint8Array(0)))).toEqual(new Uint8Array([0, 0]))
  })

  it("waits for a header and a body split across reads, holding no more than they", () => {
    const decoded = frames({ lengthBytes: 4, littleEndian: true }, [3], [0, 0], [], [0, 1], [2, 3, 1])
    expect(bodies(decoded.frames)).toEqual([[1, 2, 3]])
    expect(decoded.error).toEqual(new FrameTruncatedError({ pending: 1 }))
    expect(decoded.maxPending).toBe(5)
  })

  it("refuses an 8-byte length of 2^53 (beyond Number.MAX_SAFE_INTEGER) whatever the cap, and takes 2^53 - 1", () => {
    const large = { lengthBytes: 8, maxFrameBytes: Infinity } as const
    expect(frames(large, [0, 0x20, 0, 0, 0, 0, 0, 0]).error).toEqual(new FrameTooLargeError({ length: 2 ** 53, maxFrameBytes: Infinity }))
    expect(frames({ ...large, littleEndian: true }, [0, 0, 0, 0, 0, 0, 0x20, 0]).error).toMatchObject({ _tag: "FrameTooLargeError", length: 2 ** 53 })
    expect(frames(large, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).error).toMatchObject({ _tag: "FrameTooLargeError" })
    const safe = frames(large, [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1])
    expect(safe.error).toEqual(new FrameTruncatedError({ pending: 9 }))
  })

  it("refuses a 1-byte length of 255 over a smaller cap, before its body", () => {
    const decoded = frames({ lengthBytes: 1, maxFrameBytes: 100 }, [2, 1, 2, 255])
    expect(bodies(decoded.frames)).toEqual([[1, 2]])
    expect(decoded.error).toEqual(new FrameTooLargeError({ length: 255, maxFrameBytes: 100 }))
    expect(decoded.error).toHaveProperty("message", "frame too large (255 bytes, max 100)")
  })

  it("with lengthIncludesHeader, counts the header and refuses a length smaller than it", () => {
    const options = { lengthBytes: 2, lengthIncludesHeader: true } as const
    expect(bodies(frames(options, [0, 2, 0, 4, 7, 8]).frames)).toEqual([[], [7, 8]])
    const decoded = frames(options, [0, 3, 9, 0, 1])
    expect(bodies(decoded.frames)).toEqual([[9]])
    expect(decoded.error).toEqual(new FrameLengthError({ length: 1, headerBytes: 2 }))
    expect(decoded.error).toHaveProperty("message", "frame length 1 is less than its 2-byte header")
    expect(Either.getOrThrow(Framing.encodeLengthPrefixed(options)(Uint8Array.of(7, 8)))).toEqual(Uint8Array.of(0, 4, 7, 8))
  })

  it("encodes no payload that the header cannot announce, nor one over the cap", () => {
    const refused = (options: Framing.LengthPrefixedOptions, length: number) =>
      Either.flip(Framing.encodeLengthPrefixed(options)(new Uint8Array(length)))
    expect(refused({ lengthBytes: 1 }, 256)).toEqual(Either.right(new FrameTooLargeError({ length: 256, maxFrameBytes: 255 })))
    expect(refused({ lengthBytes: 1, lengthIncludesHeader: true }, 255)).toEqual(Either.right(new FrameTooLargeError({ length: 255, maxFrameBytes: 254 })))
    expect(refused({ lengthBytes: 1 }, 255)).toMatchObject({ _tag: "Left" })
    expect(refused({ maxFrameBytes: 10 }, 11)).toEqual(Either.right(new FrameTooLargeError({ length: 11, maxFrameBytes: 10 })))
    expect(Either.getOrThrow(Framing.encodeLengthPrefixed({ lengthBytes: 8, littleEndian: true })(Uint8Array.of(5)))).toEqual(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 5))
  })
})
