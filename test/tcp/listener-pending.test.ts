/**
 * Connections accepted and not yet served, over real loopback sockets: those waiting in `accept`
 * for a consumer, in their TLS handshake or awaiting their PROXY header are bounded in number
 * (beyond, closed at once and counted) and idle out; a server's queue (`queueWhenFull`) too.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Logger, LogLevel, Option, Stream } from "effect"
import * as Metrics from "../../src/metrics/metrics.js"
import { recording } from "../helpers/metrics.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import * as Peer from "../helpers/peer.js"
import { fixture } from "../helpers/servers.js"
import { portOf } from "../helpers/address.js"

const acceptOne = (listener: TcpListener.TcpListener) => listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))

const metrics = recording("pending-test")
const refusedSoFar = Effect.sync(() => metrics.count(Metrics.pendingRefused))

/** Opens `count` silent peers; returns how many the server closed within `within`. */
const closedOf = (peers: ReadonlyArray<Peer.Peer>, within: Duration.DurationInput = "500 millis") =>
  Effect.map(
    Effect.forEach(peers, (peer) => Effect.either(peer.closed(within)), { concurrency: "unbounded" }),
    (results) => results.filter((result) => result._tag === "Right").length
  )

/** A server that takes every connection as it comes and ends it at once, for the scope's lifetime. */
const servedAtOnce = (listener: TcpListener.TcpListener) =>
  TcpServer.serve(() => Effect.void).pipe(
    Effect.provideService(TcpListener.TcpListener, listener),
    Logger.withMinimumLogLevel(LogLevel.Error),
    Effect.forkScoped
  )

describe("TcpListener: connections accepted and not yet taken", () => {
  it.scopedLive("are at most maxPending: beyond, closed at once and counted; those kept are served when taken", () =>
    Effect.gen(function*() {
      const listener = yield* metrics.provide(TcpListener.make({ port: 0, maxPending: 5 }))
      const before = yield* refusedSoFar
      const peers = yield* Effect.forEach(Array.from({ length: 8 }), () => Peer.connect(portOf(listener.address)))
      expect(yield* closedOf(peers)).toBe(3)
      expect((yield* refusedSoFar) - before).toBe(3)
      for (let i = 0; i < 5; i++) {
        const connection = yield* acceptOne(listener)
        yield* connection.write(Buffer.from("hi"))
      }
      const kept = peers.filter((peer) => peer.socket.readyState === "open")
      expect(kept.length).toBe(5)
      for (const peer of kept) yield* peer.waitFor("hi")
    }))

  it.scopedLive("idle out while they wait, and a closed one is never handed out", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, idleTimeout: "300 millis" })
      const waiting = yield* Effect.forEach([1, 2], () => Peer.connect(portOf(listener.address)))
      for (const peer of waiting) yield* peer.closed("2 seconds")
      const fresh = yield* Peer.connect(portOf(listener.address))
      yield* fresh.write("me")
      const connection = yield* acceptOne(listener)
      expect(Buffer.from((yield* connection.read)!).toString()).toBe("me")
    }))

  it.scopedLive("TLS connections in their handshake count: silent ones beyond maxPending are closed at once", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, maxPending: 3, tls: { cert: fixture("cert.pem"), key: fixture("key.pem") } })
      yield* servedAtOnce(listener)
      // Plain TCP peers that never start the handshake.
      const silent = yield* Effect.forEach(Array.from({ length: 5 }), () => Peer.connect(portOf(listener.address)))
      expect(yield* closedOf(silent)).toBe(2)
    }))

  it.scopedLive("so do connections awaiting their PROXY protocol header", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, maxPending: 3, proxyProtocol: { timeout: "10 seconds" } })
      yield* servedAtOnce(listener)
      const silent = yield* Effect.forEach(Array.from({ length: 5 }), () => Peer.connect(portOf(listener.address)))
      expect(yield* closedOf(silent)).toBe(2)
      // Once those waiting leave, a new one is admitted (and read: it sends no header, so it is refused by the header check).
      for (const peer of silent) peer.socket.destroy()
      yield* Effect.sleep("100 millis")
      const late = yield* Peer.connect(portOf(listener.address))
      late.socket.write("GET / HTTP/1.0\r\n\r\n")
      yield* late.closed("2 seconds")
    }))
})

describe("TcpServer queueWhenFull", () => {
  it.scopedLive("at most maxConnections wait for a slot; more get the busy message", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* TcpServer.serve((connection) => Effect.zipRight(connection.write(Buffer.from("in")), Stream.runDrain(connection.reads)), {
        maxConnections: 1,
        queueWhenFull: true,
        busyMessage: Buffer.from("busy")
      }).pipe(Effect.provideService(TcpListener.TcpListener, listener), Logger.withMinimumLogLevel(LogLevel.Error), Effect.forkScoped)
      const served = yield* Peer.connect(portOf(listener.address))
      yield* served.waitFor("in")
      const queued = yield* Peer.connect(portOf(listener.address))
      const refused = yield* Peer.connect(portOf(listener.address))
      expect(yield* refused.closed()).toBe("busy")
      expect(queued.received()).toBe("")
      served.socket.destroy()
      yield* queued.waitFor("in")
    }))
})

