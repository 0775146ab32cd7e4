// The port forwarder example (examples/forward): curl through it to a real nginx, the tutorial's
// Python client through it to the greeting server, nc's half-close, and plain node:net peers.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { nginxFiles } from "../helpers/balancers.js"
import { printsHelp, rejectsFlags, stopsCleanly } from "../helpers/cli.js"
import { MB } from "../helpers/memory.js"
import * as Peer from "../helpers/peer.js"
import { freePort, rss, run, scratch, start, startServer, startServerUnderPnpm, tutorial } from "../helpers/process.js"

/** A directory of the test's own, removed with its scope. */
const temporaryDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(Path.join(scratch, "forward-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** nginx serving `files` (name to content) from a directory of the test's own. */
const fileServer = (files: Record<string, Uint8Array>) =>
  Effect.gen(function*() {
    const root = yield* temporaryDirectory
    for (const [name, content] of Object.entries(files)) writeFileSync(Path.join(root, name), content)
    return yield* nginxFiles(root)
  })

const slowHttpGet = fileURLToPath(new URL("../fixtures/slow_http_get.py", import.meta.url))

/** GETs `path` through `port`, reading `bytesPerSecond` at most; prints the body's length and SHA-256. */
const slowGet = (port: number, path: string, bytesPerSecond: number) =>
  run(["python3", slowHttpGet, String(port), path, String(bytesPerSecond)])

const forwarder = (to: number, ...flags: Array<string>) =>
  startServer("example:forward", ["--port", "0", "--to", `127.0.0.1:${to}`, ...flags])

/** A node:net server for one connection at a time, handing each accepted socket to `onConnection`. */
const target = (onConnection: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer({ allowHalfOpen: true }, onConnection)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

describe("pnpm example:forward", () => {
  it.scopedLive("passes a 64 MB download from nginx to curl intact, and stops on SIGTERM with code 0", () =>
    Effect.gen(function*() {
      const file = randomBytes(64 * MB)
      const nginx = yield* fileServer({ "big.bin": file })
      const forward = yield* forwarder(nginx.port)
      const out = yield* temporaryDirectory
      const curl = yield* run(["curl", "-sS", "--fail", "-o", Path.join(out, "big.bin"), `http://127.0.0.1:${forward.port}/big.bin`], "60 seconds")
      expect(curl).toMatchObject({ code: 0, stderr: "" })
      expect(sha256(readFileSync(Path.join(out, "big.bin")))).toBe(sha256(file))
      yield* stopsCleanly(forward, 5_000)
      expect(forward.stderr()).toBe("")
    }), 120_000)

  it.scopedLive("holds no more memory for a client that reads slowly: it reads from the target only as fast", () =>
    Effect.gen(function*() {
      const nginx = yield* fileServer({ "big.bin": randomBytes(64 * MB), "small.bin": randomBytes(MB) })
      const forward = yield* forwarder(nginx.port)
      // Warmed up, then measured while a client reads slowly what nginx would send at once.
      expect(yield* slowGet(forward.port, "/small.bin", 10 * MB)).toMatchObject({ code: 0 })
      const before = rss(forward.child.pid!)
      const reader = yield* start(["python3", slowHttpGet, String(forward.port), "/big.bin", String(MB)])
      let most = before
      for (let i = 0; i < 20; i++) {
        yield* Effect.sleep("200 millis")
        most = Math.max(most, rss(forward.child.pid!))
      }
      expect((most - before) / MB).toBeLessThan(24)
      expect(reader.child.exitCode).toBe(null)
    }), 120_000)

  it.scopedLive("passes the tutorial's Python client to the greeting server, byte for byte", () =>
    Effect.gen(function*() {
      const greeting = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"])
      const forward = yield* forwarder(greeting.port)
      const client = yield* run(["python3", tutorial("tcp_client.py"), String(forward.port)])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n" })
    }))

  it.scopedLive("passes a client's half-close on, and the replies still come back", () =>
    Effect.gen(function*() {
      // Each reply after a delay: they come after nc has sent its FIN.
      const greeting = yield* startServer("start:tcp", ["--port", "0", "--delay", "1", "--framing", "line"])
      const forward = yield* forwarder(greeting.port)
      const nc = yield* start(["nc.openbsd", "-N", "127.0.0.1", String(forward.port)])
      nc.send("Ada\nGrace\n")
      nc.child.stdin!.end()
      expect(yield* nc.exited).toBe(0)
      expect(nc.stdout()).toBe("Welcome!Hello, Ada!\nHello, Grace!\n")
    }))

  it.scopedLive("stops on a terminal's Ctrl+C under pnpm with code 0, once the exchanges under way are done", () =>
    Effect.gen(function*() {
      const greeting = yield* startServer("start:tcp", ["--port", "0", "--delay", "1", "--framing", "line"])
      const forward = yield* startServerUnderPnpm("example:forward", ["--port", "0", "--to", `127.0.0.1:${greeting.port}`])
      const peer = yield* Peer.connect(forward.port)
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Ada\n")
      yield* Effect.sleep("200 millis")
      // To the whole group, as a terminal sends it: pnpm and the program each get it.
      process.kill(-forward.child.pid!, "SIGINT")
      expect(yield* peer.closed()).toBe("Welcome!Hello, Ada!\n")
      expect(yield* forward.exited).toBe(0)
    }))

  it.scopedLive("passes the target's half-close on, and the client's bytes still go through", () =>
    Effect.gen(function*() {
      const heard = yield* Deferred.make<string>()
      const port = yield* target((socket) => {
        let data = ""
        socket.setEncoding("latin1").on("data", (chunk: string) => (data += chunk))
        socket.on("end", () => Deferred.unsafeDone(heard, Effect.succeed(data)))
        socket.end("bye\n")
      })
      const forward = yield* forwarder(port)
      const peer = yield* Peer.connect(forward.port)
      expect(yield* peer.closed()).toBe("bye\n")
      yield* peer.write("still talking\n")
      peer.socket.end()
      expect(yield* Deferred.await(heard)).toBe("still talking\n")
    }))

  it.scopedLive("closes the other side when one fails", () =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<void>()
      const port = yield* target((socket) => {
        socket.on("error", () => {})
        socket.on("close", () => Deferred.unsafeDone(closed, Effect.void))
        socket.on("data", () => socket.resetAndDestroy())
      })
      const forward = yield* forwarder(port)
      // The target resets: the client's connection is closed.
      const client = yield* Peer.connect(forward.port)
      yield* client.write("reset, please\n")
      yield* client.closed()
      // The client resets: the target's connection is closed.
      const other = yield* Peer.connect(forward.port)
      yield* Effect.sleep("100 millis")
      other.socket.resetAndDestroy()
      yield* Deferred.await(closed)
    }))

  it.scopedLive("closes a client's connection when the target cannot be reached, with a warning on stderr", () =>
    Effect.gen(function*() {
      const nobody = yield* freePort()
      const forward = yield* forwarder(nobody)
      const peer = yield* Peer.connect(forward.port)
      expect(yield* peer.closed()).toBe("")
      yield* forward.waitForStderr(new RegExp(`WARN .*: cannot connect to 127\\.0\\.0\\.1:${nobody}: connection refused`))
      // A connection's failure is not the server's.
      yield* stopsCleanly(forward, 5_000)
    }))

  it.scopedLive("closes a pair of connections idle both ways, and not one whose bytes flow one way only", () =>
    Effect.gen(function*() {
      const file = randomBytes(2 * MB)
      const nginx = yield* fileServer({ "file.bin": file })
      const forward = yield* forwarder(nginx.port, "--idle-timeout", "1")
      const silent = yield* Peer.connect(forward.port)
      const started = Date.now()
      yield* silent.closed()
      expect(Date.now() - started).toBeGreaterThan(900)
      // Only nginx sends, for longer than the idle timeout.
      expect(yield* slowGet(forward.port, "/file.bin", MB / 2)).toMatchObject({ code: 0, stdout: `${file.length} ${sha256(file)}\n` })
    }), 60_000)

  printsHelp("example:forward", "Usage: pnpm example:forward --port PORT --to HOST:PORT")

  rejectsFlags("example:forward", [
    [["--port", "0"], "--port and --to are required (see --help)"],
    [["--port", "0", "--to", "localhost"], "--to must be HOST:PORT, got localhost"],
    [["--port", "0", "--to", "localhost:99999"], "--to must be a port number, 0 to 65535, got 99999"],
    [["--port", "0", "--to", "localhost:80", "--idle-timeout", "soon"], "--idle-timeout must be a number of seconds >= 0, got soon"]
  ])
})
