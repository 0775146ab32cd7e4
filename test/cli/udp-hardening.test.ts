import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pastSignalCopyWindow, rejectsFlags, stopsCleanly, udpSummary } from "../helpers/cli.js"
import * as Http from "../helpers/http.js"
import { startServer } from "../helpers/process.js"
import * as UdpPeer from "../helpers/udp-peer.js"

const names = Array.from({ length: 20 }, (_, i) => `name${i}`)

describe("start:udp graceful shutdown", () => {
  it.scopedLive("on SIGTERM, the delayed replies in flight go out; exit 0 within grace + 1 s", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "1", "--shutdown-grace", "3"])
      const peer = yield* UdpPeer.open()
      for (const name of names) peer.send(name, server.port)
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 4000)
      const replies = yield* peer.waitFor(names.length)
      expect([...replies].sort()).toEqual(names.map((name) => `Hello, ${name}!`).sort())
      expect(server.stderr()).toContain("shutdown: 20 delayed reply(s) sent, 0 dropped")
      expect(udpSummary(server.stderr())).toEqual({ received: 20, answered: 20, dropped: 0 })
    }))

  it.scopedLive("on SIGHUP (a closed terminal), the same: the delayed replies go out; exit 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "1", "--shutdown-grace", "3"])
      const peer = yield* UdpPeer.open()
      for (const name of names) peer.send(name, server.port)
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 4000, "SIGHUP")
      const replies = yield* peer.waitFor(names.length)
      expect([...replies].sort()).toEqual(names.map((name) => `Hello, ${name}!`).sort())
      expect(server.stderr()).toContain("shutdown: 20 delayed reply(s) sent, 0 dropped")
    }))

  it.scopedLive("drops what is still waiting after --shutdown-grace, and exits 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "30", "--shutdown-grace", "0.5"])
      const peer = yield* UdpPeer.open()
      peer.send("Ada", server.port)
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 1500)
      expect(server.stderr()).toContain("shutdown: 0 delayed reply(s) sent, 1 dropped")
      expect(udpSummary(server.stderr())).toEqual({ received: 1, answered: 0, dropped: 1 })
    }))

  it.scopedLive("with --delay 2 --concurrency 1, 10 datagrams and SIGTERM at 1 s: 1 answered, 9 dropped, and the logs say so", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "2", "--concurrency", "1"])
      const peer = yield* UdpPeer.open()
      for (let i = 0; i < 10; i++) peer.send(`d${i}`, server.port)
      yield* Effect.sleep("1 second")
      yield* stopsCleanly(server, 3000)
      // The one waiting out its delay goes out; the 9 waiting for a slot are dropped, and counted.
      yield* peer.waitFor(1)
      expect(peer.received()).toEqual(["Hello, d0!"])
      expect(server.stderr()).toContain(
        "shutting down: dropping 9 datagram(s) not yet being answered, letting 1 delayed reply(s) go out, for up to 5s"
      )
      expect(server.stderr()).toContain("shutdown: 1 delayed reply(s) sent, 0 dropped")
      expect(udpSummary(server.stderr())).toEqual({ received: 10, answered: 1, dropped: 9 })
    }))

  it.scopedLive("a second signal stops waiting at once", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "30", "--shutdown-grace", "60"])
      const peer = yield* UdpPeer.open()
      peer.send("Ada", server.port)
      yield* Effect.sleep("300 millis")
      server.child.kill("SIGINT")
      yield* pastSignalCopyWindow
      expect(server.child.exitCode).toBeNull()
      yield* stopsCleanly(server, 1000, "SIGINT")
    }))
})

describe("start:udp --max-wait", () => {
  // A burst fills the buffer; a slot frees each 0.1 s, so without the bound the probe, behind a
  // thousand datagrams, would wait about 100 s.
  it.scopedLive("--delay 1 --concurrency 10 --max-wait 2: after a burst, a probe is answered within 2 + 1 s; the stale ones are dropped and counted", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "1", "--concurrency", "10", "--max-wait", "2", "--metrics-port", "0"])
      const [, url] = yield* server.waitFor(/^metrics on (\S+)$/m)
      const burst = yield* UdpPeer.open()
      for (let i = 0; i < 2000; i++) burst.send(`b${i}`, server.port)
      // Once the first replies went out, the buffer has room for the probe.
      yield* burst.waitFor(10)
      yield* Effect.sleep("300 millis")
      const probe = yield* UdpPeer.open()
      const sent = Date.now()
      probe.send("probe", server.port)
      expect(yield* probe.waitFor(1, 4000)).toEqual(["Hello, probe!"])
      expect(Date.now() - sent).toBeLessThan(2000 + 1000 + 1000)
      // Nothing is in flight once the probe's turn came: what was received is answered or dropped.
      const metrics = yield* Http.get(url!)
      const [received, answered, dropped] = ["received", "answered", "dropped"].map((what) =>
        Http.sample(metrics, `effect_net_udp_datagrams_${what}_total`)
      )
      expect(received).toBe(answered + dropped)
      expect(answered).toBe(burst.received().length + 1)
      expect(dropped).toBeGreaterThan(900)
      yield* stopsCleanly(server, 2000)
      expect(udpSummary(server.stderr())).toEqual({ received, answered, dropped })
    }), 30_000)

  rejectsFlags("start:udp", [[["--max-wait", "-1"], "--max-wait must be a number of seconds >= 0, got -1"]])
})

describe("start:udp --metrics-port", () => {
  it.scopedLive("serves the datagram counts in Prometheus' text format", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--metrics-port", "0"])
      const [, url] = yield* server.waitFor(/^metrics on (\S+)$/m)
      const peer = yield* UdpPeer.open()
      for (const name of ["Ada", "Grace", "Alan"]) peer.send(name, server.port)
      yield* peer.waitFor(3)
      const metrics = yield* Http.get(url!)
      expect(metrics).toMatch(/^effect_net_udp_datagrams_received_total\{server="udp-server"\} 3$/m)
      expect({
        received: Http.sample(metrics, "effect_net_udp_datagrams_received_total"),
        answered: Http.sample(metrics, "effect_net_udp_datagrams_answered_total"),
        dropped: Http.sample(metrics, "effect_net_udp_datagrams_dropped_total"),
        bytesIn: Http.sample(metrics, "effect_net_udp_bytes_received_total"),
        bytesOut: Http.sample(metrics, "effect_net_udp_bytes_sent_total"),
        messagesIn: Http.sample(metrics, "effect_net_messages_received_total"),
        messagesOut: Http.sample(metrics, "effect_net_messages_sent_total")
      }).toEqual({
        received: 3,
        answered: 3,
        dropped: 0,
        bytesIn: "AdaGraceAlan".length,
        bytesOut: "Hello, Ada!Hello, Grace!Hello, Alan!".length,
        messagesIn: 3,
        messagesOut: 3
      })
    }))

  rejectsFlags("start:udp", [
    [["--shutdown-grace", "-1"], "--shutdown-grace must be a number of seconds >= 0, got -1"],
    [["--metrics-port", "-1"], "--metrics-port must be between 0 and 65535, got -1"]
  ])
})
