import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { lines, rejectsFlags } from "../helpers/cli.js"
import { freePort, run, runScript, start, startServer, tutorial } from "../helpers/process.js"

const tutorialLines = ["Welcome!", "Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"]

describe("pnpm start:tcp", () => {
  it.scopedLive("serves the tutorial's own client, logs accept and close, and stops on SIGTERM with code 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"])
      expect(server.host).toBe("127.0.0.1")
      const client = yield* run(["python3", tutorial("tcp_client.py"), String(server.port)])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
      yield* Effect.sleep("100 millis")
      expect(server.stderr()).toMatch(/level=INFO .*message="Accept new connection from 127\.0\.0\.1:\d+\.\.\."/)
      expect(server.stderr()).toMatch(/message="Connection from 127\.0\.0\.1:\d+ closed\."/)
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("stops on SIGINT with code 0 while a client is connected", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0"])
      const socket = Net.connect(server.port, "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      yield* Effect.async<void>((resume) => void socket.once("data", () => resume(Effect.void)))
      server.child.kill("SIGINT")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("takes --log-level anywhere on the command line", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--log-level", "warning"])
      yield* run(["python3", tutorial("tcp_client.py"), String(server.port)])
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(server.stderr()).toBe("")
    }))

  it.live("prints its help and exits 0", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript("start:tcp", ["--help"])
      expect(code).toBe(0)
      for (const flag of ["--host", "--port", "--delay", "--framing", "--max-line-bytes"]) expect(stdout).toContain(flag)
    }))

  rejectsFlags("start:tcp", [
    [["--port", "70000"], "--port must be between 0 and 65535, got 70000"],
    [["--port", "abc"], "invalid value for --port: abc is not an integer"],
    [["--delay", "-1"], "--delay must be a number of seconds >= 0, got -1"],
    [["--framing", "words"], "invalid value for --framing: words (one of raw, line)"],
    [["--max-line-bytes", "0"], "--max-line-bytes must be at least 1, got 0"],
    [["--frobnicate"], "Received unknown argument: '--frobnicate'"]
  ])

  it.scopedLive("says so, with exit code 1, when the port is taken", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0"])
      const { code, stderr } = yield* runScript("start:tcp", ["--port", String(server.port)])
      expect(code).toBe(1)
      expect(lines(stderr)).toEqual([
        `error: cannot listen on 127.0.0.1:${server.port}: the address is already in use (EADDRINUSE); stop the other server or choose another --port (0 picks a free one)`
      ])
    }))
})

describe("pnpm client:tcp", () => {
  it.scopedLive("talks to the tutorial's own server", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const tutorialServer = yield* start(["python3", tutorial("tcp_server.py"), String(port), "0"])
      yield* tutorialServer.waitFor(/Waiting for connection\.\.\./)
      const client = yield* runScript("client:tcp", ["--port", String(port)])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
    }))

  it.scopedLive("greets the names it is given, with line framing, against our server", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--framing", "line"])
      const client = yield* runScript("client:tcp", ["--port", String(server.port), "--framing", "line", "Ada", "Grace"])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\nHello, Grace!\n" })
    }))

  it.scopedLive("exits 1 with a clear message when nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const { code, stdout, stderr } = yield* runScript("client:tcp", ["--port", String(port)])
      expect(code).toBe(1)
      expect(stdout).toBe("")
      expect(lines(stderr)).toEqual([
        `error: cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED); is the server running on that host and port?`
      ])
    }))

  it.live("prints its help and exits 0", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript("client:tcp", ["--help"])
      expect(code).toBe(0)
      for (const flag of ["--host", "--port", "--framing", "--timeout", "NAME"]) expect(stdout).toContain(flag)
    }))
})
