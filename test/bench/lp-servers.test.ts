// The lp ping-pong case's three servers (`pnpm bench --only lp`) answer the protocol alike, and
// rightly: frames split anywhere across reads, several in one read, empty and large ones, an
// oversized one refused; and the load generator's run against each counts only right replies.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { connect } from "../helpers/peer.js"
import { root, run, start } from "../helpers/process.js"

const servers = [
  ["node:net", "dist/bench/baselines/lp-raw.js"],
  ["bare fiber", "dist/bench/baselines/lp-fiber.js"],
  ["effect-net", "dist/bench/servers/lp-effect-net.js"]
] as const

/** The frame of `payload` (latin1 text) as latin1 text: the 4-byte big-endian length, then the payload. */
const framed = (payload: string) => {
  const n = payload.length
  return String.fromCharCode(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255) + payload
}
const bytes = (text: string) => Buffer.from(text, "latin1")

const listening = (program: string) =>
  Effect.gen(function*() {
    const server = yield* start([process.execPath, Path.join(root, program), "0"])
    const [, port] = yield* server.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m)
    return Number(port)
  })

describe.each(servers)("the lp ping-pong server on %s", (_, program) => {
  it.scopedLive("answers a frame split anywhere across reads", () =>
    Effect.gen(function*() {
      const peer = yield* connect(yield* listening(program))
      for (const piece of [[0, 0], [0, 7, 77, 105, 99], [104, 97, 101, 108]]) {
        yield* peer.write(new Uint8Array(piece))
        yield* Effect.sleep("20 millis")
      }
      yield* peer.waitFor(framed("Hello, Michael!"))
      expect(peer.received()).toBe(framed("Hello, Michael!"))
    }))

  it.scopedLive("answers several frames in one read, an empty one, and one of many reads, in order", () =>
    Effect.gen(function*() {
      const peer = yield* connect(yield* listening(program))
      const large = "x".repeat(300_000)
      const sent = bytes(framed("Ada") + framed("") + framed(large) + framed("Grace"))
      yield* peer.write(sent.subarray(0, 20))
      yield* Effect.sleep("20 millis")
      yield* peer.write(sent.subarray(20))
      const expected = framed("Hello, Ada!") + framed("Hello, !") + framed(`Hello, ${large}!`) + framed("Hello, Grace!")
      yield* peer.waitFor(framed("Hello, Grace!"))
      expect(peer.received() === expected).toBe(true)
    }))

  it.scopedLive("closes a connection whose frame announces more than 1 MiB", () =>
    Effect.gen(function*() {
      const peer = yield* connect(yield* listening(program))
      yield* peer.write(new Uint8Array([0, 16, 0, 1, 120]))
      expect(yield* peer.closed()).toBe("")
    }))

  it.scopedLive("serves the load generator's lp run, each reply checked", () =>
    Effect.gen(function*() {
      const port = yield* listening(program)
      const result = yield* run([process.execPath, Path.join(root, "dist/bench/load/tcp-pingpong.js"), String(port), "5", "50", "lp"])
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout).messages).toBe(250)
    }))
})
