// TcpListener's proxyProtocol option over real loopback sockets: the header is read before the
// connection is handed over, `remote` becomes the client it names, the bytes after it are the
// first read; connections from untrusted peers, without a header or with a bad one are closed
// with one log line and a count, never handed over.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Layer, Logger, LogLevel, Queue, Scope } from "effect"
import { formatAddress, tcpAddress } from "../../src/address.js"
import * as Logging from "../../src/logging.js"
import * as Metrics from "../../src/metrics/metrics.js"
import * as Cidr from "../../src/tcp/cidr.js"
import type { Connection } from "../../src/tcp/connection.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import * as Peer from "../helpers/peer.js"
import { portOf } from "../helpers/address.js"

/** The log lines of the test (message and annotations), instead of none. */
const capturedLogs = () => {
  const logs: Array<{ readonly level: string; readonly message: string; readonly peer: unknown }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) =>
    logs.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message.join(" ") : String(message),
      peer: annotations.pipe((map) => [...map].find(([key]) => key === "peer")?.[1])
    })
  )
  // Routine lines at Info, as the effect-net program has them (Debug by default).
  return { logs, layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logging.layerRoutineLevel(LogLevel.Info)) }
}

/** A listener with the PROXY protocol on; the connections it hands over, in a queue. */
const proxiedListener = (options: TcpListener.TcpListenerOptions["proxyProtocol"] = {}) =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make({ port: 0, proxyProtocol: options })
    const handedOver = yield* Queue.unbounded<Connection>()
    yield* listener.acceptWith((connection) => Queue.unsafeOffer(handedOver, connection))
    const next = Queue.take(handedOver).pipe(Effect.timeout(Duration.seconds(10)))
    return { listener, handedOver, next }
  })

const rejected = (reason: Metrics.ProxyRejectedReason) => Metrics.proxyRejected.unsafeValue(Metrics.proxyRejectedTags[reason]).count

const text = (bytes: Uint8Array | undefined) => bytes === undefined ? undefined : Buffer.from(bytes).toString("latin1")

const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** A v2 PROXY (TCP over IPv4) header from 192.0.2.7:40000 to 198.51.100.1:443, with a 5-byte TLV. */
const v2Header = Buffer.concat([
  v2Signature,
  Buffer.from([0x21, 0x11, 0x00, 12 + 8]),
  Buffer.from([192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0x01, 0xbb]),
  Buffer.from([0x05, 0x00, 0x05, 1, 2, 3, 4, 5])
])

/** A v2 LOCAL header (a balancer's own health check). */
const v2Local = Buffer.concat([v2Signature, Buffer.from([0x20, 0x00, 0x00, 0x00])])

/** Reads until `expected` bytes came, or the end. */
const readAll = (connection: Connection, expected: number) =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    let total = 0
    while (total < expected) {
      const chunk = yield* connection.read
      if (chunk === undefined) break
      chunks.push(chunk)
      total += chunk.length
    }
    return Buffer.concat(chunks)
  })

describe("TcpListener with proxyProtocol", () => {
  it.scopedLive("v1: remote is the header's client; the bytes after it, sent with it, are the first read", () =>
    Effect.gen(function*() {
      const { listener, next } = yield* proxiedListener()
      const peer = yield* Peer.connect(portOf(listener.address))
      yield* peer.write("PROXY TCP4 203.0.113.9 127.0.0.1 51234 9999\r\nhello")
      const connection = yield* next
      expect(connection.remote).toEqual(tcpAddress("203.0.113.9", 51234))
      expect(connection.local).toEqual(tcpAddress("127.0.0.1", portOf(listener.address)))
      expect(text(yield* connection.read)).toBe("hello")
      yield* peer.write(" world")
      expect(text(yield* connection.read)).toBe(" world")
      yield* connection.write(new TextEncoder().encode("ok"))
      yield* peer.waitFor("ok")
    }))

  it.scopedLive("v2 with a TLV, split across writes, then a large payload: nothing lost, nothing reordered", () =>
    Effect.gen(function*() {
      const { listener, next } = yield* proxiedListener()
      const peer = yield* Peer.connect(portOf(listener.address))
      const payload = Buffer.alloc(512 * 1024)
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff
      yield* peer.write(v2Header.subarray(0, 10))
      yield* Effect.sleep("50 millis")
      yield* peer.write(Buffer.concat([v2Header.subarray(10), payload.subarray(0, 1000)]))
      const connection = yield* next
      expect(connection.remote).toEqual(tcpAddress("192.0.2.7", 40000))
      yield* peer.write(payload.subarray(1000))
      const received = yield* readAll(connection, payload.length)
      expect(received.equals(payload)).toBe(true)
    }))

  it.scopedLive("v2 LOCAL and v1 UNKNOWN keep the proxy's own address", () =>
    Effect.gen(function*() {
      const { listener, next } = yield* proxiedListener()
      for (const header of [v2Local, Buffer.from("PROXY UNKNOWN\r\n")]) {
        const peer = yield* Peer.connect(portOf(listener.address))
        yield* peer.write(Buffer.concat([header, Buffer.from("ping")]))
        const connection = yield* next
        expect(connection.remote).toEqual(tcpAddress("127.0.0.1", peer.socket.localPort!))
        expect(text(yield* connection.read)).toBe("ping")
      }
    }))

  it.scopedLive("refuses a connection without a header, a malformed one and an oversized one: closed, logged, counted", () =>
    Effect.gen(function*() {
      const { layer, logs } = capturedLogs()
      const { handedOver, listener } = yield* proxiedListener({ maxHeaderBytes: 64 }).pipe(Effect.provide(layer))
      const cases = [
        ["hello\r\n", "not_proxy_protocol", "the connection does not start with PROXY or the v2 signature"],
        ["PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "malformed", "v1: invalid port in \"1 99999\""],
        [Buffer.concat([v2Signature, Buffer.from([0x21, 0x11, 0x01, 0x00])]), "too_large", "v2: a 272-byte header, over the limit of 64"]
      ] as const
      for (const [sent, reason, detail] of cases) {
        const before = rejected(reason)
        const peer = yield* Peer.connect(portOf(listener.address))
        yield* peer.write(sent)
        yield* peer.closed()
        const name = formatAddress(tcpAddress("127.0.0.1", peer.socket.localPort!))
        expect(logs.at(-1)).toEqual({ level: "WARN", message: `refused ${name}: no valid PROXY protocol header: ${detail}`, peer: name })
        expect(rejected(reason)).toBe(before + 1)
      }
      expect(logs).toHaveLength(cases.length)
      expect(yield* Queue.size(handedOver)).toBe(0)
      expect(listener.openConnections()).toBe(0)
    }))

  it.scopedLive("refuses a peer outside the trusted blocks without reading from it", () =>
    Effect.gen(function*() {
      const { layer, logs } = capturedLogs()
      const trusted = Either.getOrThrow(Cidr.parseList("10.0.0.0/8"))
      const { handedOver, listener } = yield* proxiedListener({ trusted }).pipe(Effect.provide(layer))
      const before = rejected("untrusted")
      const peer = yield* Peer.connect(portOf(listener.address))
      yield* peer.write("PROXY TCP4 203.0.113.9 127.0.0.1 51234 9999\r\n")
      yield* peer.closed()
      const name = `127.0.0.1:${peer.socket.localPort}`
      expect(logs).toEqual([{ level: "WARN", message: `refused ${name}: not a trusted proxy, so it may not send a PROXY protocol header`, peer: name }])
      expect(rejected("untrusted")).toBe(before + 1)
      expect(yield* Queue.size(handedOver)).toBe(0)
    }))

  it.scopedLive("a header not complete in time: closed at the timeout; a peer that sends nothing and leaves: logged at info", () =>
    Effect.gen(function*() {
      const { layer, logs } = capturedLogs()
      const { listener } = yield* proxiedListener({ timeout: "300 millis" }).pipe(Effect.provide(layer))
      const slow = yield* Peer.connect(portOf(listener.address))
      yield* slow.write("PROXY TCP4 1.2.")
      const started = Date.now()
      yield* slow.closed()
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(logs.at(-1)?.message).toMatch(/^refused 127\.0\.0\.1:\d+: no valid PROXY protocol header: no complete header within 300ms$/)
      const before = rejected("closed")
      const silent = yield* Peer.connect(portOf(listener.address))
      silent.socket.end()
      yield* silent.closed()
      yield* Effect.sleep("50 millis")
      expect(logs.at(-1)).toMatchObject({ level: "INFO", message: expect.stringMatching(/: the peer sent nothing$/) })
      expect(rejected("closed")).toBe(before + 1)
    }))

  it.scopedLive("stopAccepting closes the connections whose header is awaited, without a refusal logged", () =>
    Effect.gen(function*() {
      const { layer, logs } = capturedLogs()
      const { handedOver, listener } = yield* proxiedListener().pipe(Effect.provide(layer))
      const waiting = yield* Peer.connect(portOf(listener.address))
      yield* waiting.write("PROXY TCP4 ")
      yield* Effect.sleep("50 millis")
      yield* listener.stopAccepting
      yield* waiting.closed()
      expect(logs).toEqual([])
      expect(yield* Queue.size(handedOver)).toBe(0)
    }))

  it.scopedLive("a server behind it logs, limits and greets the header's client", () =>
    Effect.gen(function*() {
      const { layer, logs } = capturedLogs()
      const scope = yield* Scope.make()
      const listener = yield* TcpListener.make({ port: 0, proxyProtocol: {} }).pipe(Scope.extend(scope))
      yield* TcpServer.serve((connection) => connection.write(new TextEncoder().encode(`you are ${formatAddress(connection.remote)}`)), {
        maxConnections: 1
      }).pipe(
        Effect.provideService(TcpListener.TcpListener, listener),
        Effect.provide(layer),
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.forkIn(scope)
      )
      const peer = yield* Peer.connect(portOf(listener.address))
      yield* peer.write("PROXY TCP6 2001:db8::1 ::1 4000 9999\r\n")
      expect(yield* peer.closed()).toBe("you are [2001:db8::1]:4000")
      yield* Scope.close(scope, Exit.void)
      // Its lines about each connection, at Debug.
      expect(logs.map((log) => log.message)).toContain("connection from [2001:db8::1]:4000 accepted")
      expect(logs.find((log) => log.message.endsWith("closed"))).toMatchObject({
        level: "DEBUG",
        message: "connection from [2001:db8::1]:4000 closed",
        peer: "[2001:db8::1]:4000"
      })
    }))
})
