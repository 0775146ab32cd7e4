import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { Framing } from "effect-net"
import { bytes, bytesOf, decode, text } from "../helpers/framing.js"

const show = (messages: ReadonlyArray<Framing.Message>) => messages.map((m) => text(m.body) + "|" + JSON.stringify(text(m.terminator)))

describe("raw framing", () => {
  it("keeps a read whole and strips one trailing newline as the terminator", () => {
    expect(show([Framing.rawMessage(bytes("a\n\n"))])).toEqual(["a\n|\"\\n\""])
    expect(show([Framing.rawMessage(bytes("a\r\n"))])).toEqual(["a|\"\\r\\n\""])
    expect(show([Framing.rawMessage(bytes("a\nb"))])).toEqual(["a\nb|\"\""])
    expect(show([Framing.rawMessage(bytes("\n"))])).toEqual(["|\"\\n\""])
  })

  // Its frames are the reads: unlike every other decoder's, they depend on how the bytes were cut.
  it.prop(
    "gives each read as one message, holds nothing and never fails",
    [FastCheck.array(bytesOf([0x61, 0x0d, 0x0a], 8), { maxLength: 10 })],
    ([reads]) => {
      const decoded = decode(Framing.raw(), reads)
      expect(show(decoded.frames)).toEqual(show(reads.map(Framing.rawMessage)))
      expect(decoded.error).toBeUndefined()
      expect(decoded.maxPending).toBe(0)
    },
    { fastCheck: { numRuns: 300 } }
  )
})
