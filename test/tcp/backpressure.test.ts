import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { floodWithoutReading } from "../helpers/peer.js"
import { rss, run, startServer, tutorial } from "../helpers/process.js"

/** The self-signed certificate of test/fixtures/tls, its key, and the tutorial's client over TLS. */
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

const MB = 1024 * 1024

const tls = ["--tls-cert", fixture("tls/cert.pem"), "--tls-key", fixture("tls/key.pem")]

/** The cases: the server's flags, the tutorial's client (over TLS, its ssl-wrapped variant), how the flood connects. */
const cases = [
  { name: "--delay 0", flags: ["--delay", "0"], client: (port: number) => ["python3", tutorial("tcp_client.py"), String(port)], over: undefined },
  { name: "--delay 1", flags: ["--delay", "1"], client: (port: number) => ["python3", tutorial("tcp_client.py"), String(port)], over: undefined },
  {
    name: "over TLS, --delay 0",
    flags: ["--delay", "0", ...tls],
    client: (port: number) => ["python3", fixture("tls_tcp_client.py"), String(port), fixture("tls/cert.pem")],
    over: "tls" as const
  }
]

describe("backpressure", () => {
  for (const { client, flags, name, over } of cases) {
    it.scopedLive(`a client writing 50 MB without reading replies is blocked, and the server does not grow (${name})`, () =>
      Effect.gen(function*() {
        const server = yield* startServer("start:tcp", ["--port", "0", ...flags])
        const pid = server.child.pid!
        // Warm up the code paths, then take the baseline.
        yield* run(client(server.port))
        const baseline = rss(pid)
        let peak = baseline
        const sampler = yield* Effect.fork(
          Effect.sync(() => (peak = Math.max(peak, rss(pid)))).pipe(Effect.repeat(Schedule.spaced("50 millis")))
        )
        const flood = yield* floodWithoutReading(server.port, 50 * MB, 4, over)
        yield* Effect.sleep("1500 millis")
        // Other clients are still served while the flood is stuck.
        const other = yield* run(client(server.port))
        expect(other.stdout).toBe("Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n")
        yield* Effect.sleep("2500 millis")
        yield* Fiber.interrupt(sampler)
        // The kernel's socket buffers hold a few MB; the rest of the 50 MB could not be sent.
        expect(flood.written()).toBeLessThan(25 * MB)
        expect(peak - baseline, `server RSS went from ${baseline / MB} MB to ${peak / MB} MB`).toBeLessThan(16 * MB)
      }), 30_000)
  }
})
