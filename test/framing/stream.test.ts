import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, FastCheck, Schema, Stream } from "effect"
import { FrameTruncatedError, Framing, LineTooLongError } from "effect-net"
import { bytes, bytesOf, decode, splits, text } from "../helpers/framing.js"

/** A decoder of each kind. */
const decoders: ReadonlyArray<readonly [string, () => Framing.Decoder<unknown, unknown>]> = [
  ["raw", Framing.raw],
  ["lines", () => Framing.lines({ maxLineBytes: 8 })],
  ["lengthPrefixed", () => Framing.lengthPrefixed({ lengthBytes: 1, maxFrameBytes: 40 })],
  ["delimited", () => Framing.delimited({ delimiter: "ab", maxFrameBytes: 8 })],
  ["schemaJson", () => Framing.schemaJson(Schema.Number, Framing.lines())]
]

const show = (frame: unknown) => typeof frame === "number" ? frame : text((frame as Framing.Message).body)

/** Runs `stream`: the frames it emitted (also those before a failure), and its failure. */
const collect = <A, E>(stream: Stream.Stream<A, E>) => {
  const frames: Array<A> = []
  const exit = Effect.runSyncExit(Stream.runForEach(stream, (frame) => Effect.sync(() => void frames.push(frame))))
  return { frames, error: Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined }
}

/** Reads, grouped into the chunks a Stream would pull them in. */
const chunked = (reads: ReadonlyArray<Uint8Array>) =>
  FastCheck.array(FastCheck.nat({ max: reads.length }), { maxLength: 4 }).map((cuts) => {
    const at = [0, ...cuts.sort((a, b) => a - b), reads.length]
    return at.slice(1).map((end, i) => Chunk.fromIterable(reads.slice(at[i]!, end)))
  })

describe("Framing.frame, arbitrary input", () => {
  const input = bytesOf([0x31, 0x32, 0x61, 0x62, 0x0a, 0x0d, 0x03], 80)
    .chain(splits)
    .chain((reads) => chunked(reads).map((chunks) => ({ reads, chunks })))

  for (const [name, make] of decoders) {
    it.prop(
      `emits the frames the decoder gives, then fails with its error, the reads pulled in any chunks, and again on a second run (${name})`,
      [input],
      ([{ chunks, reads }]) => {
        const direct = decode(make(), reads)
        const expected = { frames: direct.frames.map(show), error: direct.error }
        // A decoder per run: the second run starts afresh.
        const stream = Stream.fromChunks(...chunks).pipe(Framing.frame(make))
        for (const run of [collect(stream), collect(stream)]) expect({ frames: run.frames.map(show), error: run.error }).toEqual(expected)
      },
      { fastCheck: { numRuns: 200 } }
    )
  }
})

describe("Framing.frame", () => {
  it("emits the frames before a decoder's error, then fails with it", () => {
    const run = collect(Stream.make(bytes("ok\nfine\nmuch too long\n")).pipe(Framing.frame(() => Framing.lines({ maxLineBytes: 4 }))))
    expect(run.frames.map(show)).toEqual(["ok", "fine"])
    expect(run.error).toEqual(new LineTooLongError({ maxLineBytes: 4 }))
  })

  it("ends with the last frame flush completes, or with its error", () => {
    expect(collect(Stream.make(bytes("a\nb")).pipe(Framing.frame(Framing.lines))).frames.map(show)).toEqual(["a", "b"])
    const truncated = collect(Stream.make(Uint8Array.of(1, 0x61, 3, 0x62)).pipe(Framing.frame(() => Framing.lengthPrefixed({ lengthBytes: 1 }))))
    expect(truncated.frames.map(show)).toEqual(["a"])
    expect(truncated.error).toEqual(new FrameTruncatedError({ pending: 2 }))
  })

  it("passes on the reads' own failure, after the frames before it", () => {
    const reads = Stream.concat(Stream.make(bytes("a\nb")), Stream.fail("reset" as const))
    const run = collect(reads.pipe(Framing.frame(Framing.lines)))
    expect(run.frames.map(show)).toEqual(["a"])
    expect(run.error).toBe("reset")
  })
})
