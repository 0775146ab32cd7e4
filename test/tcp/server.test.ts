import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, LogLevel, Scope } from "effect"
import * as TcpGreetingServer from "../../src/greeting/tcp-server.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import * as Peer from "../helpers/peer.js"
import { portOf } from "../helpers/address.js"

/** Starts a greeting server in its own scope; returns the port and that scope. */
const startServer = (options: TcpGreetingServer.TcpGreetingServerOptions, listen: TcpListener.TcpListenerOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const listener = yield* Scope.extend(TcpListener.make({ port: 0, ...listen }), scope)
    yield* TcpGreetingServer.serve(options).pipe(
      Effect.provideService(TcpListener.TcpListener, listener),
      Logger.withMinimumLogLevel(LogLevel.Warning),
      Effect.forkIn(scope)
    )
    return { port: portOf(listener.address), scope }
  })

const welcomed = (port: number) =>
  Effect.tap(Peer.connect(port), (peer) => peer.waitFor("Welcome!"))

describe("TcpServer connection limit", () => {
  it.scopedLive("refuses connections over the limit with the busy line, and serves again once a slot frees", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ delay: 0, maxConnections: 3 })
      const served = yield* Effect.forEach([1, 2, 3], () => welcomed(port))
      const refused = yield* Peer.connect(port)
      expect(yield* refused.closed()).toBe("Error: server busy\n")
      // The connections being served are untouched.
      yield* served[0]!.write("Ada")
      yield* served[0]!.waitFor("Welcome!Hello, Ada!")
      served[1]!.socket.end()
      yield* served[1]!.closed()
      yield* welcomed(port)
    }))

  it.scopedLive("with queueWhenFull, holds a new connection until a slot frees", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ delay: 0, maxConnections: 1, queueWhenFull: true })
      const first = yield* welcomed(port)
      const waiting = yield* Peer.connect(port)
      yield* Effect.sleep("300 millis")
      expect(waiting.received()).toBe("")
      first.socket.end()
      yield* waiting.waitFor("Welcome!")
    }))
})

describe("TcpServer shutdown", () => {
  it.scopedLive("closing the scope lets each connection finish the message in hand, then closes it", () =>
    Effect.gen(function*() {
      const { port, scope } = yield* startServer({ delay: "500 millis", shutdownGrace: "5 seconds" })
      const peers = yield* Effect.forEach(["Ada", "Grace", "Alan"], (name) =>
        Effect.tap(welcomed(port), (peer) => peer.write(name)))
      const idle = yield* welcomed(port)
      const start = Date.now()
      yield* Effect.sleep("100 millis")
      yield* Scope.close(scope, Exit.void)
      const elapsed = Date.now() - start
      // Waited for the replies in hand (about the delay), not for the grace period.
      expect(elapsed).toBeLessThan(2000)
      expect(yield* peers[0]!.closed()).toBe("Welcome!Hello, Ada!")
      expect(yield* peers[1]!.closed()).toBe("Welcome!Hello, Grace!")
      expect(yield* peers[2]!.closed()).toBe("Welcome!Hello, Alan!")
      expect(yield* idle.closed()).toBe("Welcome!")
      expect((yield* Effect.flip(Peer.connect(port))).message).toContain("ECONNREFUSED")
    }))

  it.scopedLive("force-closes what is still running after the grace period", () =>
    Effect.gen(function*() {
      const { port, scope } = yield* startServer({ delay: "30 seconds", shutdownGrace: "300 millis" })
      const peer = yield* welcomed(port)
      yield* peer.write("Ada")
      yield* Effect.sleep("100 millis")
      const start = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - start).toBeLessThan(1500)
      expect(yield* peer.closed()).toBe("Welcome!")
    }))

  it.scopedLive("stops waiting when forceShutdown completes", () =>
    Effect.gen(function*() {
      const force = yield* Deferred.make<void>()
      const { port, scope } = yield* startServer({
        delay: "30 seconds",
        shutdownGrace: "30 seconds",
        forceShutdown: Deferred.await(force)
      })
      const peer = yield* welcomed(port)
      yield* peer.write("Ada")
      yield* Effect.sleep("100 millis")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* Effect.sleep("200 millis")
      expect(closing.unsafePoll()).toBeNull()
      yield* Deferred.succeed(force, undefined)
      yield* Fiber.join(closing).pipe(Effect.timeout("1 second"))
      expect(yield* peer.closed()).toBe("Welcome!")
    }))
})

describe("TcpServer timeouts", () => {
  it.scopedLive("closes an idle connection and keeps serving", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ delay: 0 }, { idleTimeout: "300 millis" })
      const idle = yield* welcomed(port)
      const start = Date.now()
      expect(yield* idle.closed()).toBe("Welcome!")
      expect(Date.now() - start).toBeGreaterThanOrEqual(250)
      const active = yield* welcomed(port)
      yield* active.write("Ada")
      yield* active.waitFor("Hello, Ada!")
    }))

  it.scopedLive("cuts off a client that sends but never reads the replies", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer({ delay: 0 }, { writeTimeout: "500 millis" })
      const peer = yield* welcomed(port)
      peer.socket.pause()
      // Replies pile up until the write blocks; then the server waits 0.5 s and gives up.
      const block = "x".repeat(64 * 1024)
      yield* Effect.forEach(Array.from({ length: 200 }), () => Effect.sync(() => peer.socket.write(block)), { discard: true })
      yield* Effect.sleep("1500 millis")
      peer.socket.resume()
      yield* peer.closed()
      const other = yield* welcomed(port)
      yield* other.write("Ada")
      yield* other.waitFor("Hello, Ada!")
    }))
})

describe("TcpServer as a library", () => {
  it.scopedLive("is quiet by default: ten ordinary conversations log nothing at the default level", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => lines.push(`${logLevel.label} ${String(message)}`))
      const listener = yield* TcpListener.make({ port: 0 })
      yield* TcpServer.serve((connection) =>
        Effect.gen(function*() {
          yield* connection.write(Buffer.from("hi"))
          while ((yield* connection.read) !== undefined);
        })
      ).pipe(Effect.provideService(TcpListener.TcpListener, listener), Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Effect.forkScoped)
      for (let i = 0; i < 10; i++) {
        const peer = yield* Peer.connect(portOf(listener.address))
        yield* peer.waitFor("hi")
        peer.socket.end()
        yield* peer.closed()
      }
      yield* Effect.sleep("50 millis")
      expect(lines).toEqual([])
    }))
})
