import { unixAddress } from "../../src/address.js"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope, Stream } from "effect"
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as PlatformSocketServer from "../../src/platform/socket-server.js"
import * as TcpClient from "../../src/tcp/client.js"
import * as TcpListener from "../../src/tcp/listener.js"
import { run, scratch } from "../helpers/process.js"
import { fixture } from "../helpers/servers.js"

/** A path for a socket in the scratch directory (short: a Unix socket's path holds 107 bytes at most). */
const socketPath = (name: string) => Path.join(scratch, `${name}.sock`)

const acceptOne = (listener: TcpListener.TcpListener) =>
  listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))

const text = (bytes: Uint8Array | undefined) => bytes === undefined ? undefined : Buffer.from(bytes).toString()

/** A socket file that nothing listens on, as a crashed server leaves it (bound by Python, which leaves it behind). */
const staleSocket = (path: string) =>
  Effect.gen(function*() {
    const made = yield* run(["python3", "-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`])
    expect(made.code).toBe(0)
    expect(statSync(path).isSocket()).toBe(true)
  })

/** A `node:net` server on `path`, independent of the code under test; the scope closes it. */
const otherServer = (path: string) =>
  Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer((socket) => socket.destroy())
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

describe("TcpListener on a Unix socket", () => {
  it.scopedLive("listens on a path: a client connects with its path, both ends' addresses are the socket's", () =>
    Effect.gen(function*() {
      const path = socketPath("basic")
      const listener = yield* TcpListener.make({ path })
      expect(listener.address).toEqual(unixAddress(path))
      const client = yield* TcpClient.connect({ path })
      const server = yield* acceptOne(listener)
      expect(server.remote).toEqual({ _tag: "UnixAddress", path })
      expect(client.remote).toEqual({ _tag: "UnixAddress", path })
      yield* client.write(new TextEncoder().encode("ping"))
      expect(text(yield* server.read)).toBe("ping")
      yield* client.end
      expect(yield* server.read).toBeUndefined()
      // Half-closed: the server may still answer.
      yield* server.write(new TextEncoder().encode("pong"))
      yield* server.end
      expect(text(yield* client.read)).toBe("pong")
    }))

  it.scopedLive("removes the socket file when it closes", () =>
    Effect.gen(function*() {
      const path = socketPath("removed")
      const scope = yield* Scope.make()
      yield* Scope.extend(TcpListener.make({ path }), scope)
      expect(statSync(path).isSocket()).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(existsSync(path)).toBe(false)
    }))

  it.scopedLive("replaces a stale socket file (nothing listens on it)", () =>
    Effect.gen(function*() {
      const path = socketPath("stale")
      yield* staleSocket(path)
      const listener = yield* TcpListener.make({ path })
      yield* TcpClient.connect({ path })
      yield* acceptOne(listener)
    }))

  it.scopedLive("refuses a path another server listens on, and leaves it to that server", () =>
    Effect.gen(function*() {
      const path = socketPath("taken")
      yield* otherServer(path)
      const error = yield* Effect.flip(TcpListener.make({ path }))
      expect(error.reason).toBe("AddressInUse")
      expect(error.message).toBe(`cannot listen on unix:${path}: another server is listening on it`)
      expect(statSync(path).isSocket()).toBe(true)
      // Still that server's: it takes a connection.
      yield* TcpClient.connect({ path })
    }))

  it.scopedLive("refuses a path that is a regular file, and leaves the file alone", () =>
    Effect.gen(function*() {
      const path = socketPath("regular")
      writeFileSync(path, "keep me")
      const error = yield* Effect.flip(TcpListener.make({ path }))
      expect(error.reason).toBe("AddressInUse")
      expect(error.message).toBe(`cannot listen on unix:${path}: a file that is not a socket is in the way`)
      expect(statSync(path).isFile()).toBe(true)
    }))

  it.scopedLive("says so when the directory does not exist, or the path is too long for a Unix socket", () =>
    Effect.gen(function*() {
      const missing = Path.join(scratch, "no-such-dir", "x.sock")
      const error = yield* Effect.flip(TcpListener.make({ path: missing }))
      expect(error.message).toBe(`cannot listen on unix:${missing}: no such file or directory (ENOENT)`)
      // Node would bind the first 107 bytes of it without a word.
      const long = Path.join(scratch, "x".repeat(120))
      const tooLong = yield* Effect.flip(TcpListener.make({ path: long }))
      expect(tooLong.message).toBe(`cannot listen on unix:${long}: the path is ${Buffer.byteLength(long)} bytes long, a Unix socket's at most 107`)
      expect(existsSync(long.slice(0, 107))).toBe(false)
    }))

  it.scopedLive("gives the socket file the permissions of `mode`", () =>
    Effect.gen(function*() {
      const directory = Path.join(scratch, "modes")
      mkdirSync(directory, { recursive: true })
      for (const mode of [0o600, 0o660]) {
        const path = Path.join(directory, `${mode.toString(8)}.sock`)
        yield* TcpListener.make({ path, mode })
        expect(statSync(path).mode & 0o777).toBe(mode)
      }
    }))

  it.scopedLive("a stuck reader is cut off after the write timeout (a Unix socket cannot be reset: it is closed)", () =>
    Effect.gen(function*() {
      const path = socketPath("stuck")
      const listener = yield* TcpListener.make({ path, writeTimeout: "300 millis" })
      const peer = Net.connect({ path })
      peer.pause()
      yield* Effect.addFinalizer(() => Effect.sync(() => peer.destroy()))
      const connection = yield* acceptOne(listener)
      const error = yield* Effect.flip(connection.write(new Uint8Array(32 * 1024 * 1024)))
      expect(error.message).toBe(`closed the connection with unix:${path}: it did not read our replies for 0.3 s (write timeout)`)
      expect(listener.openConnections()).toBe(0)
    }))

  it.scopedLive("speaks TLS on a Unix socket too", () =>
    Effect.gen(function*() {
      const path = socketPath("tls")
      const cert = fixture("cert.pem")
      const listener = yield* TcpListener.make({ path, tls: { cert, key: fixture("key.pem") } })
      // No host to check the certificate against: Node checks it for localhost, as the fixture's is.
      const client = yield* TcpClient.connect({ path, tls: { ca: cert } })
      const server = yield* acceptOne(listener)
      expect(server.tls?.protocol).toBe("TLSv1.3")
      yield* client.write(new TextEncoder().encode("ping"))
      expect(text(yield* server.read)).toBe("ping")
    }))
})

describe("PlatformSocketServer on a Unix socket", () => {
  it.scopedLive("reports a UnixAddress", () =>
    Effect.gen(function*() {
      const path = socketPath("platform")
      const server = yield* PlatformSocketServer.make({ path })
      expect(server.address).toEqual({ _tag: "UnixAddress", path })
    }))
})

describe("TcpClient to a Unix socket", () => {
  it.scopedLive("is refused at a stale socket file, and says where", () =>
    Effect.gen(function*() {
      const path = socketPath("client-stale")
      yield* staleSocket(path)
      const error = yield* Effect.flip(TcpClient.connect({ path }))
      expect(error.reason).toBe("Refused")
      expect(error.message).toBe(`cannot connect to unix:${path}: connection refused (ECONNREFUSED)`)
    }))

  it.scopedLive("says so when there is no such file, or the path is too long for a Unix socket", () =>
    Effect.gen(function*() {
      const path = socketPath("client-missing")
      const error = yield* Effect.flip(TcpClient.connect({ path }))
      expect(error.message).toBe(`cannot connect to unix:${path}: no such file or directory (ENOENT)`)
      const long = Path.join(scratch, "y".repeat(120))
      const tooLong = yield* Effect.flip(TcpClient.connect({ path: long }))
      expect(tooLong.message).toBe(`cannot connect to unix:${long}: the path is ${Buffer.byteLength(long)} bytes long, a Unix socket's at most 107`)
    }))
})
