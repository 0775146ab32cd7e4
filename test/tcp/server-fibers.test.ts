/**
 * What a handler's code may expect of the fiber it runs in, over real loopback sockets: Effect's
 * default scheduling (CPU-heavy code and `yieldNow` loops complete, other connections are
 * answered meanwhile, a shutdown interrupts them after the grace), a Scope of its own closed when
 * its connection ends, and the server's own helper fibers ending with the server.
 */
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect, Exit, Fiber, type Layer, Logger, LogLevel, PubSub, Ref, Scope, Stream } from "effect"
import * as SocketServer from "@effect/platform/SocketServer"
import * as PlatformSocketServer from "../../src/platform/socket-server.js"
import type { Connection } from "../../src/tcp/connection.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import * as Peer from "../helpers/peer.js"
import { portOf } from "../helpers/address.js"

const text = (bytes: Uint8Array | undefined) => bytes === undefined ? "" : Buffer.from(bytes).toString()
const bytes = (text: string) => Buffer.from(text)

/** Serves `handler` on a new listener, in a scope of its own; returns the port and that scope. */
const start = <E, R>(handler: TcpServer.Handler<E, R>, options: TcpServer.TcpServerOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const listener = yield* Scope.extend(TcpListener.make({ port: 0 }), scope)
    const server = yield* TcpServer.serve(handler, options).pipe(
      Effect.provideService(TcpListener.TcpListener, listener),
      Logger.withMinimumLogLevel(LogLevel.Warning),
      Effect.forkIn(scope)
    )
    return { port: portOf(listener.address), scope, server }
  })

/** `compute`: drains a 3,000,000-element Stream and yields 300,000 times, then says `done`; anything else gets `pong`. */
const busyHandler = (connection: Connection) =>
  Effect.gen(function*() {
    const first = text(yield* connection.read)
    if (first !== "compute") return yield* connection.write(bytes("pong"))
    yield* Stream.runDrain(Stream.range(1, 3_000_000))
    for (let i = 0; i < 300_000; i++) yield* Effect.yieldNow()
    yield* connection.write(bytes("done"))
  })

describe("TcpServer handler scheduling", () => {
  it.scopedLive("CPU-heavy handler code and yieldNow loops complete, and another connection is answered meanwhile", () =>
    Effect.gen(function*() {
      const { port } = yield* start(busyHandler)
      const busy = yield* Peer.connect(port)
      yield* busy.write("compute")
      yield* Effect.sleep("20 millis")
      const probe = yield* Peer.connect(port)
      const asked = Date.now()
      yield* probe.write("ping")
      yield* probe.waitFor("pong", "1 second")
      expect(Date.now() - asked).toBeLessThan(1000)
      yield* busy.waitFor("done", "60 seconds")
    }), 70_000)

  it.scopedLive("fibers a handler forks run on the default scheduler too: deep yield loops, no stack overflow", () =>
    Effect.gen(function*() {
      const { port } = yield* start((connection) =>
        Effect.gen(function*() {
          const worker = yield* Effect.fork(Effect.forEach(Array.from({ length: 200_000 }), () => Effect.yieldNow(), { discard: true }))
          yield* Fiber.join(worker)
          yield* connection.write(bytes("done"))
        })
      )
      const peer = yield* Peer.connect(port)
      yield* peer.waitFor("done", "60 seconds")
    }), 70_000)

  it.scopedLive("a shutdown interrupts a handler that computes for ever, after the grace", () =>
    Effect.gen(function*() {
      const { port, scope } = yield* start(
        (connection) => Effect.zipRight(connection.write(bytes("busy")), Effect.forever(Effect.yieldNow())),
        { shutdownGrace: "300 millis" }
      )
      const peer = yield* Peer.connect(port)
      yield* peer.waitFor("busy")
      const began = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - began).toBeLessThan(3000)
      yield* peer.closed()
    }), 20_000)
})

describe("TcpServer handler scopes", () => {
  it.scopedLive("each handler runs in a Scope of its own, closed when its connection ends", () =>
    Effect.gen(function*() {
      const closed = yield* Ref.make(0)
      const { port } = yield* start((connection) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Ref.update(closed, (n) => n + 1))
          while ((yield* connection.read) !== undefined);
        })
      )
      for (const _ of [1, 2, 3]) {
        const peer = yield* Peer.connect(port)
        peer.socket.end()
        yield* peer.closed()
      }
      yield* Effect.sleep("50 millis")
      expect(yield* Ref.get(closed)).toBe(3)
    }))

  it.scopedLive("a subscription a handler takes goes with its connection: departed clients hold no publisher back", () =>
    Effect.gen(function*() {
      const pubsub = yield* PubSub.bounded<string>(1)
      const { port } = yield* start((connection) =>
        Effect.gen(function*() {
          yield* PubSub.subscribe(pubsub)
          yield* connection.write(bytes("joined"))
          while ((yield* connection.read) !== undefined);
        })
      )
      for (const _ of [1, 2, 3]) {
        const peer = yield* Peer.connect(port)
        yield* peer.waitFor("joined")
        peer.socket.end()
        yield* peer.closed()
      }
      yield* Effect.sleep("50 millis")
      // With the departed subscriptions alive, the second message would wait for ever.
      yield* Effect.forEach(["a", "b", "c", "d", "e"], (message) => PubSub.publish(pubsub, message)).pipe(
        Effect.timeoutFail({ duration: "1 second", onTimeout: () => new Error("publishing blocked by departed subscribers") })
      )
    }))

  it.scopedLive("an interrupted connection's scope is closed too (a shutdown past its grace)", () =>
    Effect.gen(function*() {
      const closed = yield* Ref.make(0)
      const { port, scope } = yield* start(
        (connection) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Ref.update(closed, (n) => n + 1))
            yield* connection.write(bytes("in"))
            yield* Effect.never
          }),
        { shutdownGrace: "100 millis" }
      )
      const peer = yield* Peer.connect(port)
      yield* peer.waitFor("in")
      yield* Scope.close(scope, Exit.void)
      expect(yield* Ref.get(closed)).toBe(1)
    }))

  it("a handler that requires a Scope leaves no Scope requirement on the server", () => {
    const handler = (connection: Connection) => Effect.zipRight(Effect.addFinalizer(() => Effect.void), connection.end)
    expectTypeOf(TcpServer.layer(handler)).toEqualTypeOf<Layer.Layer<TcpServer.TcpServer, never, TcpListener.TcpListener>>()
    expectTypeOf(TcpServer.serve(handler)).toEqualTypeOf<Effect.Effect<never, never, TcpListener.TcpListener>>()
  })

  it.scopedLive("a handler may fork into its scope (Effect.forkScoped, forkIn): the fibers are interrupted when its connection ends", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const ticker = (connection: Connection) =>
        Effect.forever(Effect.zipRight(connection.write(bytes(".")), Effect.sleep("20 millis"))).pipe(
          Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1))
        )
      const { port } = yield* start((connection) =>
        Effect.gen(function*() {
          yield* Effect.forkScoped(ticker(connection))
          yield* Effect.forkIn(ticker(connection), yield* Effect.scope)
          while ((yield* connection.read) !== undefined);
        })
      )
      for (const _ of [1, 2]) {
        const peer = yield* Peer.connect(port)
        yield* peer.waitFor("..")
        peer.socket.end()
        yield* peer.closed()
      }
      yield* Effect.sleep("50 millis")
      expect(yield* Ref.get(interrupted)).toBe(4)
    }))

  it.scopedLive("PlatformSocketServer: each handler has a Scope of its own too", () =>
    Effect.gen(function*() {
      const closed = yield* Ref.make(0)
      const server = yield* PlatformSocketServer.make({ port: 0 })
      yield* server.run((socket) =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Ref.update(closed, (n) => n + 1))
          yield* socket.run(() => Effect.void)
        })
      ).pipe(Logger.withMinimumLogLevel(LogLevel.Warning), Effect.forkScoped)
      const port = (server.address as SocketServer.TcpAddress).port
      for (const _ of [1, 2]) {
        const peer = yield* Peer.connect(port)
        peer.socket.end()
        yield* peer.closed()
      }
      yield* Effect.sleep("50 millis")
      expect(yield* Ref.get(closed)).toBe(2)
    }))
})

describe("TcpServer's own fibers", () => {
  it.scopedLive("a refusal in progress (a busy message the peer does not read) ends with the server, not with its listener", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      const scope = yield* Scope.make()
      yield* TcpServer.serve(() => Effect.never, { maxConnections: 1, busyMessage: new Uint8Array(8 * 1024 * 1024) }).pipe(
        Effect.provideService(TcpListener.TcpListener, listener),
        Logger.withMinimumLogLevel(LogLevel.Error),
        Effect.forkIn(scope)
      )
      const port = portOf(listener.address)
      yield* Peer.connect(port)
      const refused = yield* Peer.connect(port)
      // It reads nothing: the busy message waits, until the refusal gives up (after a second).
      refused.socket.pause()
      yield* Effect.sleep("100 millis")
      expect(listener.openConnections()).toBe(2)
      const began = Date.now()
      // The shutdown itself waits its grace for the handler that never ends.
      yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      while (listener.openConnections() > 1) yield* Effect.sleep("10 millis")
      expect(Date.now() - began).toBeLessThan(500)
    }))
})
