import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { floodWithoutReading } from "../helpers/peer.js"
import { rss, run, startServer, tutorial } from "../helpers/process.js"

/** The self-signed certificate of test/fixtures/tls, its key, and the tutorial's client over TLS. */
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

const MB = 1024 * 1024

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

  it.scopedLive("over TLS too: a client writing 50 MB without reading replies is blocked, and the server does not grow", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--tls-cert", fixture("tls/cert.pem"), "--tls-key", fixture("tls/key.pem")])
      const pid = server.child.pid!
      const client = ["python3", fixture("tls_tcp_client.py"), String(server.port), fixture("tls/cert.pem")]
      // Warm up the code paths, then take the baseline.
      yield* run(client)
      const baseline = rss(pid)
      let peak = baseline
      const sampler = yield* Effect.fork(
        Effect.sync(() => (peak = Math.max(peak, rss(pid)))).pipe(Effect.repeat(Schedule.spaced("50 millis")))
      )
      const flood = yield* floodWithoutReading(server.port, 50 * MB, 4, "tls")
      yield* Effect.sleep("1500 millis")
      const other = yield* run(client)
      expect(other.stdout).toBe("Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n")
      yield* Effect.sleep("2500 millis")
      yield* Fiber.interrupt(sampler)
      expect(flood.written()).toBeLessThan(25 * MB)
      expect(peak - baseline, `server RSS went from ${baseline / MB} MB to ${peak / MB} MB`).toBeLessThan(16 * MB)
    }), 30_000)
})
