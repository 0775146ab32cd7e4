import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import * as Net from "node:net"
import { rss, run, startServer, tutorial } from "../helpers/process.js"

const MB = 1024 * 1024

/** Connects and writes `total` bytes as fast as the socket takes them, never reading a reply. */
const floodWithoutReading = (port: number, total: number, seconds: number) =>
  Effect.acquireRelease(
    Effect.async<{ socket: Net.Socket; written: () => number }>((resume) => {
      const socket = Net.connect({ port, host: "127.0.0.1" })
      socket.pause()
      socket.on("error", () => {})
      let written = 0
      const deadline = Date.now() + seconds * 1000
      const block = Buffer.alloc(64 * 1024, "x")
      const pump = () => {
        while (written < total && Date.now() < deadline) {
          written += block.length
          if (!socket.write(block)) return void socket.once("drain", pump)
        }
      }
      socket.once("connect", () => {
        pump()
        resume(Effect.succeed({ socket, written: () => written }))
      })
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

describe("backpressure", () => {
  for (const delay of ["0", "1"]) {
    it.scopedLive(`a client writing 50 MB without reading replies does not grow the server (--delay ${delay})`, () =>
      Effect.gen(function*() {
        const server = yield* startServer("start:tcp", ["--port", "0", "--delay", delay])
        const pid = server.child.pid!
        // Warm up the code paths, then take the baseline.
        yield* run(["python3", tutorial("tcp_client.py"), String(server.port)])
        const baseline = rss(pid)
        let peak = baseline
        const sampler = yield* Effect.fork(
          Effect.sync(() => (peak = Math.max(peak, rss(pid)))).pipe(Effect.repeat(Schedule.spaced("50 millis")))
        )
        const flood = yield* floodWithoutReading(server.port, 50 * MB, 4)
        yield* Effect.sleep("1500 millis")
        // Other clients are still served while the flood is stuck.
        const other = yield* run(["python3", tutorial("tcp_client.py"), String(server.port)])
        expect(other.stdout).toBe("Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n")
        yield* Effect.sleep("2500 millis")
        yield* Fiber.interrupt(sampler)
        // The kernel's socket buffers hold a few MB; the rest of the 50 MB could not be sent.
        expect(flood.written()).toBeLessThan(25 * MB)
        expect(peak - baseline, `server RSS went from ${baseline / MB} MB to ${peak / MB} MB`).toBeLessThan(16 * MB)
      }), 30_000)
  }
})
