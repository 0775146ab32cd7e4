import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lines } from "../helpers/cli.js"
import * as Http from "../helpers/http.js"
import * as Peer from "../helpers/peer.js"
import { processExit, root, rss, run, startServer } from "../helpers/process.js"

const MB = 1024 * 1024

/** `conversations` short conversations (welcome, one message, its reply, exit), 20 at a time, by a plain node:net client. */
const churn = (port: number, conversations: number) =>
  Effect.gen(function*() {
    const load = [process.execPath, `${root}dist/bench/load/tcp-churn.js`, String(port), String(conversations), "20"]
    const { code, stderr, stdout } = yield* run(load, "2 minutes")
    expect(code, stderr).toBe(0)
    expect(JSON.parse(stdout).connections).toBe(conversations)
  })

const dropped = /level=WARN .*message="dropped (\d+) log line\(s\): stderr was not being read"/

describe("start:tcp with stderr unread (a stuck log collector)", () => {
  it.scopedLive("20,000 conversations: memory stays bounded, the server keeps answering, and the dropped lines are counted and reported", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--metrics-port", "0"], { stderrUnread: true })
      expect(Http.sample(yield* Http.scrape(server), "effect_net_log_lines_dropped_total")).toBe(0)
      // A warm-up: the heap grows to its working size, the pipe fills, lines start to wait.
      yield* churn(server.port, 2_000)
      const before = rss(server.child.pid!)
      yield* churn(server.port, 20_000)
      const after = rss(server.child.pid!)
      // Unbounded, these 20,000 conversations grew the server by 80-100 MB (their log lines);
      // bounded, by 10-30 MB (its heap, as with stderr read).
      expect((after - before) / MB).toBeLessThan(40)
      const peer = yield* Peer.connect(server.port)
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada")
      yield* peer.waitFor("Welcome!Hello, Ada!")
      peer.socket.end("exit")
      yield* peer.closed()
      yield* Effect.sleep("100 millis")
      const counted = Http.sample(yield* Http.scrape(server), "effect_net_log_lines_dropped_total")
      // Two lines per conversation, most of them past the buffer.
      expect(counted).toBeGreaterThan(30_000)
      server.readStderr()
      yield* server.waitForStderr(dropped)
      // One notice, where the lines are missing (nothing was logged after them); every line of
      // the 22,001 conversations (two each) is either written or counted.
      const logged = lines(server.stderr())
      const notices = logged.filter((line) => dropped.test(line))
      expect(notices).toHaveLength(1)
      expect(logged.at(-1)).toBe(notices[0])
      expect(Number(notices[0]!.match(dropped)![1])).toBe(counted)
      expect(logged.length - 1 + counted).toBe(2 * 22_001)
    }))

  it.scopedLive("a stop still prints the last lines (the shutdown summary) once stderr takes them", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"], { stderrUnread: true })
      // More than the pipe holds, less than the logger's bound: nothing dropped, much buffered.
      yield* churn(server.port, 2_000)
      const peer = yield* Peer.connect(server.port)
      yield* peer.waitFor("Welcome!")
      server.child.kill("SIGTERM")
      yield* Effect.sleep("300 millis")
      server.readStderr()
      expect(yield* server.exited).toBe(0)
      const logged = lines(server.stderr())
      expect(logged.filter((line) => / message="Connection from \S+ closed\."/.test(line))).toHaveLength(2_001)
      expect(logged.at(-2)).toMatch(/level=INFO .*message="shutdown: 1 connection\(s\) finished, 0 forced closed"/)
      expect(logged.at(-1)).toMatch(/level=INFO .*message="stopped: 2001 connection\(s\) accepted"/)
      expect(server.stderr()).not.toMatch(dropped)
    }))

  it.scopedLive("a stop does not hang when stderr is never read again", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"], { stderrUnread: true })
      yield* churn(server.port, 2_000)
      const sent = Date.now()
      server.child.kill("SIGTERM")
      expect(yield* processExit(server.child).pipe(Effect.timeout("5 seconds"))).toBe(0)
      expect(Date.now() - sent).toBeLessThan(3_000)
    }))

  it.scopedLive("stderr closed by its reader: the server keeps serving, counts the lines it cannot write, and stops cleanly", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--metrics-port", "0"], { stderrUnread: true })
      server.child.stderr!.destroy()
      yield* churn(server.port, 500)
      const peer = yield* Peer.connect(server.port)
      yield* peer.write("Ada")
      yield* peer.waitFor("Welcome!Hello, Ada!")
      expect(Http.sample(yield* Http.scrape(server), "effect_net_log_lines_dropped_total")).toBeGreaterThan(500)
      const sent = Date.now()
      server.child.kill("SIGTERM")
      expect(yield* processExit(server.child).pipe(Effect.timeout("5 seconds"))).toBe(0)
      expect(Date.now() - sent).toBeLessThan(3_000)
    }))
})
