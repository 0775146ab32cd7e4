import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pastSignalCopyWindow, rejectsFlags, stopsCleanly } from "../helpers/cli.js"
import * as Http from "../helpers/http.js"
import * as Peer from "../helpers/peer.js"
import { hasExited, run, runScript, scriptCommand, start, startInTerminal, startServer, tutorial } from "../helpers/process.js"

const tutorialOutput = "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"

describe("start:tcp --max-connections", () => {
  it.scopedLive("with 50 allowed and 60 clients: 50 served, 10 told the server is busy; freed slots are reused", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--max-connections", "50"])
      const served = yield* Effect.forEach(Array.from({ length: 50 }), () =>
        Effect.tap(Peer.connect(server.port), (peer) => peer.waitFor("Welcome!")), { concurrency: 10 })
      const refused = yield* Effect.forEach(Array.from({ length: 10 }), () =>
        Effect.flatMap(Peer.connect(server.port), (peer) => peer.closed()), { concurrency: 10 })
      expect(refused).toEqual(Array(10).fill("Error: server busy\n"))
      // Those being served were not disturbed.
      yield* served[49]!.write("Ada")
      yield* served[49]!.waitFor("Welcome!Hello, Ada!")
      for (const peer of served.slice(0, 5)) peer.socket.end()
      yield* Effect.forEach(served.slice(0, 5), (peer) => peer.closed())
      const again = yield* run(["python3", tutorial("tcp_client.py"), String(server.port)])
      expect(again.stdout).toBe(tutorialOutput)
      expect(server.stderr()).toMatch(/level=WARN .*message="server busy \(50 connections\): refused 127\.0\.0\.1:\d+"/)
    }))

  it.scopedLive("with --queue-when-full, a client waits for a free slot instead", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--max-connections", "1", "--queue-when-full"])
      const first = yield* Peer.connect(server.port)
      yield* first.waitFor("Welcome!")
      const second = yield* Peer.connect(server.port)
      yield* Effect.sleep("300 millis")
      expect(second.received()).toBe("")
      first.socket.end()
      yield* second.waitFor("Welcome!")
    }))
})

describe("start:tcp timeouts", () => {
  it.scopedLive("closes a silent connection after --idle-timeout, with a log line", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--idle-timeout", "0.3"])
      const peer = yield* Peer.connect(server.port)
      expect(yield* peer.closed()).toBe("Welcome!")
      yield* Effect.sleep("100 millis")
      expect(server.stderr()).toMatch(/no data sent or received for 0\.3 s \(idle timeout\)/)
    }))

  it.scopedLive("cuts off a client that does not read its replies after --write-timeout", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--write-timeout", "0.5"])
      const peer = yield* Peer.connect(server.port)
      peer.socket.pause()
      const block = "x".repeat(64 * 1024)
      for (let i = 0; i < 200; i++) peer.socket.write(block)
      yield* Effect.sleep("1500 millis")
      peer.socket.resume()
      yield* peer.closed()
      expect(server.stderr()).toMatch(/it did not read our replies for 0\.5 s \(write timeout\)/)
    }))
})

describe("start:tcp --line-timeout", () => {
  it.scopedLive("slowloris: clients trickling a line a byte at a time no longer hold every slot", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", [
        "--port", "0", "--delay", "0", "--framing", "line", "--max-connections", "3",
        "--idle-timeout", "5", "--line-timeout", "1", "--metrics-port", "0"
      ])
      // Three clients take every slot, each sending one byte of a line every 300 ms.
      const tricklers = yield* Effect.forEach([1, 2, 3], () =>
        Effect.gen(function*() {
          const peer = yield* Peer.connect(server.port)
          yield* peer.waitFor("Welcome!")
          yield* Effect.forkScoped(Effect.forever(Effect.zipRight(peer.write("x"), Effect.sleep("300 millis"))))
          return peer
        }))
      const started = Date.now()
      for (const peer of tricklers) expect(yield* peer.closed("5 seconds")).toBe("Welcome!Error: line not complete within 1 s\n")
      expect(Date.now() - started).toBeLessThan(3000)
      // The slots are free again.
      const client = yield* runScript("client:tcp", ["--port", String(server.port), "--framing", "line"])
      expect(client.stdout).toBe(tutorialOutput)
      const metrics = yield* Http.scrape(server)
      expect(Http.sample(metrics, "effect_net_tcp_lines_timed_out_total")).toBe(3)
      expect(server.stderr()).toMatch(/level=INFO .*message="line not complete within 1 s: closing" peer=127\.0\.0\.1:\d+/)
    }))
})

describe("start:tcp graceful shutdown", () => {
  it.scopedLive("on SIGTERM, clients mid-conversation get the reply they were owed, then EOF; exit 0 within grace + 1 s", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "1", "--shutdown-grace", "3"])
      const peers = yield* Effect.forEach(["Ada", "Grace", "Alan", "Barbara"], (name) =>
        Effect.gen(function*() {
          const peer = yield* Peer.connect(server.port)
          yield* peer.waitFor("Welcome!")
          yield* peer.write(name)
          return peer
        }))
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 4000)
      const replies = yield* Effect.forEach(peers, (peer) => peer.closed())
      expect(replies).toEqual(["Welcome!Hello, Ada!", "Welcome!Hello, Grace!", "Welcome!Hello, Alan!", "Welcome!Hello, Barbara!"])
      expect(server.stderr()).toContain("shutdown: 4 connection(s) finished, 0 forced closed")
    }))

  it.scopedLive("on SIGHUP (a closed terminal), the same: the owed reply, then EOF; exit 0; a second SIGHUP forces", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "1", "--shutdown-grace", "3"])
      const peer = yield* Peer.connect(server.port)
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada")
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 4000, "SIGHUP")
      expect(yield* peer.closed()).toBe("Welcome!Hello, Ada!")
      expect(server.stderr()).toContain("shutdown: 1 connection(s) finished, 0 forced closed")
      const stuck = yield* startServer("start:tcp", ["--port", "0", "--delay", "30", "--shutdown-grace", "60"])
      const waiting = yield* Peer.connect(stuck.port)
      yield* waiting.waitFor("Welcome!")
      yield* waiting.write("Ada")
      yield* Effect.sleep("300 millis")
      stuck.child.kill("SIGHUP")
      yield* pastSignalCopyWindow
      expect(stuck.child.exitCode).toBeNull()
      yield* stopsCleanly(stuck, 1000, "SIGHUP")
      expect(stuck.stderr()).toContain("1 forced closed")
    }))

  it.scopedLive("when its terminal is closed (SIGHUP, then every write to it fails), the owed reply still goes out and it exits", () =>
    Effect.gen(function*() {
      const { pid, terminal } = yield* startInTerminal([...scriptCommand("start:tcp"), "--port", "0", "--delay", "1", "--shutdown-grace", "3"])
      const [, port] = yield* terminal.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/)
      const peer = yield* Peer.connect(Number(port))
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada")
      yield* Effect.sleep("300 millis")
      terminal.child.kill("SIGKILL")
      expect(yield* peer.closed()).toBe("Welcome!Hello, Ada!")
      // Gone within the grace and a second, its log lines to the closed terminal failing.
      expect(yield* hasExited(pid, "4 seconds")).toBe(true)
    }))

  it.scopedLive("force-closes after --shutdown-grace what has not finished, and exits 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "30", "--shutdown-grace", "0.5"])
      const peer = yield* Peer.connect(server.port)
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada")
      yield* Effect.sleep("300 millis")
      yield* stopsCleanly(server, 1500)
      expect(yield* peer.closed()).toBe("Welcome!")
      expect(server.stderr()).toContain("shutdown: 0 connection(s) finished, 1 forced closed")
    }))

  it.scopedLive("a second signal forces the shutdown at once", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "30", "--shutdown-grace", "60"])
      const peer = yield* Peer.connect(server.port)
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada")
      yield* Effect.sleep("300 millis")
      server.child.kill("SIGINT")
      yield* pastSignalCopyWindow
      expect(server.child.exitCode).toBeNull()
      yield* stopsCleanly(server, 1000, "SIGINT")
      expect(yield* peer.closed()).toBe("Welcome!")
      expect(server.stderr()).toContain("1 forced closed")
    }))
})

describe("start:tcp --metrics-port", () => {
  it.scopedLive("serves the counts a session produced in Prometheus' text format", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", [
        "--port", "0", "--delay", "0", "--framing", "line", "--max-line-bytes", "8",
        "--max-connections", "1", "--idle-timeout", "0.3", "--metrics-port", "0"
      ])
      const zero = yield* Http.scrape(server)
      expect(Http.sample(zero, "effect_net_tcp_connections_rejected_total")).toBe(0)
      const first = yield* Peer.connect(server.port)
      yield* first.waitFor("Welcome!")
      const busy = yield* Peer.connect(server.port)
      expect(yield* busy.closed()).toBe("Error: server busy\n")
      yield* first.write("Ada\nGrace\n")
      yield* first.waitFor("Hello, Grace!\n")
      yield* first.write("far too long\n")
      yield* first.closed()
      const idle = yield* Peer.connect(server.port)
      yield* idle.closed()
      yield* Effect.sleep("100 millis")
      const metrics = yield* Http.scrape(server)
      expect(metrics).toContain("# TYPE effect_net_tcp_connections_accepted_total counter")
      // Each labelled with the program's server.
      expect(metrics).toMatch(/^effect_net_tcp_connections_accepted_total\{server="tcp-server"\} \d+$/m)
      expect({
        accepted: Http.sample(metrics, "effect_net_tcp_connections_accepted_total"),
        active: Http.sample(metrics, "effect_net_tcp_connections_active"),
        rejected: Http.sample(metrics, "effect_net_tcp_connections_rejected_total"),
        timedOut: Http.sample(metrics, "effect_net_tcp_connections_timed_out_total"),
        received: Http.sample(metrics, "effect_net_messages_received_total"),
        sent: Http.sample(metrics, "effect_net_messages_sent_total"),
        tooLong: Http.sample(metrics, "effect_net_tcp_lines_too_long_total"),
        bytesIn: Http.sample(metrics, "effect_net_tcp_bytes_received_total"),
        bytesOut: Http.sample(metrics, "effect_net_tcp_bytes_sent_total")
      }).toEqual({
        accepted: 3,
        active: 0,
        rejected: 1,
        timedOut: 1,
        received: 2,
        sent: 2,
        tooLong: 1,
        bytesIn: "Ada\nGrace\nfar too long\n".length,
        bytesOut: ["Welcome!", "Error: server busy\n", "Hello, Ada!\n", "Hello, Grace!\n", "Error: line too long (max 8 bytes)\n", "Welcome!"]
          .join("").length
      })
      expect(Http.sample(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0)
    }))
})

describe("start:tcp flag validation", () => {
  rejectsFlags("start:tcp", [
    [["--max-connections", "0"], "--max-connections must be at least 1, got 0"],
    [["--idle-timeout", "-5"], "--idle-timeout must be a number of seconds >= 0, got -5"],
    [["--shutdown-grace", "x"], "invalid value for --shutdown-grace: x is not a number"],
    [["--metrics-port", "65536"], "--metrics-port must be between 0 and 65535, got 65536"],
    [["--line-timeout", "-1"], "--line-timeout must be a number of seconds >= 0, got -1"]
  ])
})

describe("start:tcp out of file descriptors", () => {
  it.scopedLive("survives EMFILE (the excess connections are closed, not left hanging) and serves again once descriptors free up", () =>
    Effect.gen(function*() {
      const command = scriptCommand("start:tcp").concat(["--port", "0", "--delay", "0"]).join(" ")
      const server = yield* start(["bash", "-c", `ulimit -n 256 && exec ${command}`])
      const [, port] = yield* server.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m)
      // Far more connections than descriptors (Node needs about 200 to start: the limit cannot go
      // much lower). libuv accepts and closes what does not fit, so those clients see EOF at once.
      const peers = yield* Effect.forEach(Array.from({ length: 400 }), () => Peer.connect(Number(port)), { concurrency: 20 })
      const outcomes = yield* Effect.forEach(peers, (peer) =>
        Effect.raceFirst(
          Effect.as(peer.waitFor("Welcome!"), "served"),
          Effect.as(peer.closed(), "closed")
        ), { concurrency: "unbounded" })
      expect(outcomes.filter((outcome) => outcome === "served").length).toBeGreaterThan(0)
      expect(outcomes.filter((outcome) => outcome === "closed").length).toBeGreaterThan(0)
      for (const peer of peers) peer.socket.destroy()
      yield* Effect.sleep("500 millis")
      const client = yield* run(["python3", tutorial("tcp_client.py"), port!])
      expect(client.stdout).toBe(tutorialOutput)
      expect(server.child.exitCode).toBeNull()
    }))
})
