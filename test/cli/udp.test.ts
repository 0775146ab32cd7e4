import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lines, rejectsFlags, udpSummary } from "../helpers/cli.js"
import { freePort, rss, run, runScript, start, startServer, tutorial } from "../helpers/process.js"
import * as UdpPeer from "../helpers/udp-peer.js"

const tutorialLines = ["Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"]

/** Sends one datagram from a fresh peer and waits for the reply. */
const ask = (port: number, message: string, host?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const peer = yield* UdpPeer.open(host)
    peer.send(message, port)
    const [reply] = yield* peer.waitFor(1)
    return reply
  }))

describe("pnpm start:udp", () => {
  it.scopedLive("serves the tutorial's own client, and stops on SIGTERM with code 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0"])
      expect(server.host).toBe("127.0.0.1")
      const client = yield* run(["python3", tutorial("udp_client.py"), String(server.port)])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
      expect(yield* ask(server.port, "Michael\n")).toBe("Hello, Michael!\n")
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(udpSummary(server.stderr())).toEqual({ received: 4, answered: 4, dropped: 0 })
    }))

  for (
    const [label, flags] of [
      ["answered at once", []],
      ["overloading --delay 0.2 --concurrency 100", ["--delay", "0.2", "--concurrency", "100"]]
    ] as const
  ) {
    it.scopedLive(`takes a burst of 10,000 datagrams from 50 senders, ${label}: correct replies, bounded memory, drops counted`, () =>
      Effect.gen(function*() {
        const server = yield* startServer("start:udp", ["--port", "0", ...flags])
        expect(yield* ask(server.port, "warm-up")).toBe("Hello, warm-up!")
        const pid = server.child.pid!
        const before = rss(pid)
        let peak = before

        const peers = yield* Effect.all(Array.from({ length: 50 }, () => UdpPeer.open()))
        for (let j = 0; j < 200; j++) for (const [i, peer] of peers.entries()) peer.send(`p${i}-${j}`, server.port)
        const answered = () => peers.reduce((sum, peer) => sum + peer.received().length, 0)
        // Until no reply has come for half a second.
        for (let last = -1; last !== answered();) {
          last = answered()
          yield* Effect.sleep("500 millis")
          peak = Math.max(peak, rss(pid))
        }

        for (const [i, peer] of peers.entries()) {
          const replies = peer.received()
          expect(new Set(replies).size).toBe(replies.length)
          for (const reply of replies) expect(reply).toMatch(new RegExp(`^Hello, p${i}-(1?\\d?\\d)!$`))
        }
        expect(yield* ask(server.port, "still there?")).toBe("Hello, still there?!")
        server.child.kill("SIGTERM")
        expect(yield* server.exited).toBe(0)
        const { answered: sent, dropped, received } = udpSummary(server.stderr())
        // Every datagram that reached the server was answered or dropped.
        expect(sent + dropped).toBe(received)
        console.log(
          `burst ${label}: ${answered()} of 10000 answered, ${received - 2} reached the server, ${dropped} dropped by it; ` +
            `server RSS ${(before / 2 ** 20).toFixed(0)} MB before, ${(peak / 2 ** 20).toFixed(0)} MB at most`
        )
        expect(received).toBeLessThanOrEqual(10_002)
        expect(answered()).toBeGreaterThan(0)
        // Replies can be lost on the way back too (a peer's receive buffer), never invented.
        expect(answered()).toBeLessThanOrEqual(received - dropped - 2)
        expect(peak - before).toBeLessThan(64 * 2 ** 20)
        if (flags.length > 0) {
          // 100 waiting out their delay, 1024 in the buffer: the rest is dropped, and said so.
          expect(dropped).toBeGreaterThan(0)
          expect(server.stderr()).toMatch(/level=WARN .*message="dropped \d+ datagram\(s\): they came faster than the server answers them/)
        }
      }))
  }

  it.scopedLive("with --delay 1, answers 100 datagrams sent at once within a few seconds", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "1"])
      const peer = yield* UdpPeer.open()
      const started = Date.now()
      for (let i = 0; i < 100; i++) peer.send(`n${i}`, server.port)
      const replies = yield* peer.waitFor(100)
      const elapsed = Date.now() - started
      expect([...replies].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `Hello, n${i}!`).sort())
      expect(elapsed).toBeGreaterThanOrEqual(950)
      expect(elapsed).toBeLessThan(10_000)
    }))

  it.scopedLive("stops on SIGINT with code 0 while replies are waiting out their delay", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--delay", "5"])
      const peer = yield* UdpPeer.open()
      peer.send("Ada", server.port)
      yield* Effect.sleep("200 millis")
      server.child.kill("SIGINT")
      expect(yield* server.exited).toBe(0)
      // The reply is due at 5 s, the grace ends at 5.2 s: answered, or dropped if the machine is slow.
      const { answered, dropped, received } = udpSummary(server.stderr())
      expect([received, answered + dropped]).toEqual([1, 1])
    }))

  it.scopedLive.skipIf(!UdpPeer.hasIpv6)("serves IPv6 with --host ::1 (skipped where the machine has no IPv6)", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--host", "::1", "--port", "0"])
      expect(server.stdout()).toBe(`listening on udp://[::1]:${server.port}\n`)
      expect(yield* ask(server.port, "Ada", "::1")).toBe("Hello, Ada!")
      const client = yield* runScript("client:udp", ["--host", "::1", "--port", String(server.port)])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
    }))

  it.live("prints its help and exits 0", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript("start:udp", ["--help"])
      expect(code).toBe(0)
      for (const flag of ["--host", "--port", "--delay", "--concurrency"]) expect(stdout).toContain(flag)
    }))

  it.scopedLive("says so, with exit code 1, when the port is taken", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0"])
      const { code, stderr } = yield* runScript("start:udp", ["--port", String(server.port)])
      expect(code).toBe(1)
      expect(lines(stderr)).toEqual([
        `error: cannot bind UDP to 127.0.0.1:${server.port}: the address is already in use (EADDRINUSE); stop the other server or choose another --port (0 picks a free one)`
      ])
    }))
})

describe("pnpm client:udp", () => {
  it.scopedLive("talks to the tutorial's own server", () =>
    Effect.gen(function*() {
      const port = yield* freePort("udp")
      const tutorialServer = yield* start(["python3", tutorial("udp_server.py"), String(port)])
      yield* tutorialServer.waitFor(/Bind UDP on \d+\.\.\./)
      const client = yield* runScript("client:udp", ["--port", String(port)])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
    }))

  it.scopedLive("greets the names it is given against our server, in order", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0"])
      const client = yield* runScript("client:udp", ["--port", String(server.port), "Ada", "Grace", "Ada"])
      expect(client).toMatchObject({ code: 0, stdout: "Hello, Ada!\nHello, Grace!\nHello, Ada!\n" })
    }))

  it.scopedLive("exits 1 naming every name, within its timeouts, when nothing answers", () =>
    Effect.gen(function*() {
      const port = yield* freePort("udp")
      const started = Date.now()
      const { code, stdout, stderr } = yield* runScript("client:udp", ["--port", String(port), "--timeout", "0.2", "--retries", "1"])
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(code).toBe(1)
      expect(stdout).toBe("")
      expect(lines(stderr)).toEqual([
        `error: no reply from 127.0.0.1:${port} for Michael, Tracy, Sarah (each sent 2 time(s), 200ms apart); is the server running on that host and port? If it is slow or the network loses datagrams, raise --timeout or --retries`
      ])
    }))

  it.live("prints its help and exits 0", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript("client:udp", ["--help"])
      expect(code).toBe(0)
      for (const flag of ["--host", "--port", "--timeout", "--retries", "NAME"]) expect(stdout).toContain(flag)
    }))
})

describe("bad flags", () => {
  rejectsFlags("start:udp", [
    [["--port", "70000"], "--port must be between 0 and 65535, got 70000"],
    [["--delay", "-1"], "--delay must be a number of seconds >= 0, got -1"],
    [["--concurrency", "0"], "--concurrency must be at least 1, got 0"],
    [["--frobnicate"], "Received unknown argument: '--frobnicate'"]
  ])
  rejectsFlags("client:udp", [
    [["--retries", "-1"], "--retries must be at least 0, got -1"],
    [["--timeout", "soon"], "invalid value for --timeout: soon is not a number"],
    [["Ada", "--frobnicate"], "Received unknown argument: '--frobnicate'"]
  ])
})
