import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger, LogLevel, Option, Schedule, Scope, Stream } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { readFileSync } from "node:fs"
import * as Tls from "node:tls"
import * as Logging from "../../src/logging.js"
import * as Metrics from "../../src/metrics/metrics.js"
import * as TcpClient from "../../src/tcp/client.js"
import type { Connection } from "../../src/tcp/connection.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as Peer from "../helpers/peer.js"
import { fixture, listen } from "../helpers/servers.js"
import { selfSigned } from "../helpers/tls.js"
import { portOf } from "../helpers/address.js"

const cert = fixture("cert.pem")
const key = fixture("key.pem")
const text = (bytes: Uint8Array | undefined) => bytes === undefined ? undefined : Buffer.from(bytes).toString()

const acceptOne = (listener: TcpListener.TcpListener) =>
  listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))

/** A TLS listener on a free port, with what it logs in `logs`. */
const tlsListener = (options: TcpListener.TcpListenerOptions = {}, tls: Partial<TcpListener.TcpListenerOptions["tls"]> = {}) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
    // Its routine lines at Info, as the effect-net program has them (Debug by default).
    const listener = yield* TcpListener.make({ port: 0, ...options, tls: { cert, key, ...tls } }).pipe(
      Logging.withRoutineLevel(LogLevel.Info),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
    return { listener, port: portOf(listener.address), logs }
  })

/** A `node:tls` client (the test's own, with the options TcpClient lacks, such as a client certificate); the scope closes it. */
const tlsPeer = (port: number, options: Tls.ConnectionOptions = {}) =>
  Effect.acquireRelease(
    Effect.async<Tls.TLSSocket, Error>((resume) => {
      const socket = Tls.connect({ port, host: "127.0.0.1", ca: cert, ...options })
      socket.once("secureConnect", () => resume(Effect.succeed(socket)))
      socket.once("error", (error) => resume(Effect.fail(error)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

const handshakeFailures = () => Metrics.tlsHandshakeFailures.unsafeValue(Metrics.noTags).count

/** Waits until `check` holds (a log line, a count), checking every 20 ms, for 5 s at most. */
const eventually = (check: () => boolean) =>
  Effect.suspend(() => check() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ times: 250, schedule: Schedule.spaced("20 millis") }),
    Effect.orDie
  )

const listening = "0A"

/** The TCP states (Linux's codes: `0A` listening, `04` FIN-WAIT-1 ...) of this machine's IPv4 sockets bound to `port`. */
const socketStates = (port: number): Array<string> =>
  readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/)
    return fields.length > 3 && parseInt(fields[1]!.split(":")[1]!, 16) === port ? [fields[3]!] : []
  })

describe("TcpListener with tls", () => {
  it.scopedLive("accepts a connection once its handshake is done; both ends tell their session", () =>
    Effect.gen(function*() {
      const { listener, port } = yield* tlsListener()
      // The fixture's self-signed certificate as the only CA: verified, not --insecure.
      const client = yield* TcpClient.connect({ port, tls: { ca: cert } })
      const server = yield* acceptOne(listener)
      yield* client.write(new TextEncoder().encode("ping"))
      expect(text(yield* server.read)).toBe("ping")
      yield* server.write(new TextEncoder().encode("pong"))
      expect(text(yield* client.read)).toBe("pong")
      expect(server.tls).toMatchObject({ protocol: "TLSv1.3", peerCertificate: undefined })
      expect(client.tls?.authorized).toBe(true)
      expect(client.tls?.peerCertificate?.subject.CN).toBe("localhost")
      // A half-close goes through TLS: the server reads the end and still answers.
      yield* client.end
      expect(yield* server.read).toBeUndefined()
      yield* server.write(new TextEncoder().encode("bye"))
      yield* server.end
      expect(text(yield* client.read)).toBe("bye")
      expect(yield* client.read).toBeUndefined()
    }))

  it.scopedLive("a plain TCP connection has no TLS session", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* Peer.connect(portOf(listener.address))
      expect((yield* acceptOne(listener)).tls).toBeUndefined()
    }))

  it.scopedLive("with requestCert and a CA, the client's certificate subject is on the connection", () =>
    Effect.gen(function*() {
      // The fixture's certificate is its own CA: a client presenting it verifies.
      const { listener, port } = yield* tlsListener({}, { ca: cert, requestCert: true })
      yield* tlsPeer(port, { cert, key })
      const server = yield* acceptOne(listener)
      expect(server.tls?.authorized).toBe(true)
      expect(server.tls?.peerCertificate?.subject.CN).toBe("localhost")
    }))

  it.scopedLive("with requestCert, a client without a certificate is refused in the handshake, or served unverified with rejectUnauthorized false", () =>
    Effect.gen(function*() {
      const strict = yield* tlsListener({}, { ca: cert, requestCert: true })
      const before = handshakeFailures()
      // TLS 1.3: the client's handshake is done before the server has checked it; the server then closes.
      const refused = yield* tlsPeer(strict.port)
      yield* Effect.async<void>((resume) => {
        refused.on("error", () => {})
        refused.once("close", () => resume(Effect.void))
        refused.resume()
      })
      yield* eventually(() => handshakeFailures() > before)
      expect(strict.listener.openConnections()).toBe(0)

      const lenient = yield* tlsListener({}, { ca: cert, requestCert: true, rejectUnauthorized: false })
      yield* tlsPeer(lenient.port)
      const server = yield* acceptOne(lenient.listener)
      expect(server.tls?.authorized).toBe(false)
      expect(server.tls?.authorizationError).toBeDefined()
      expect(server.tls?.peerCertificate).toBeUndefined()
    }))

  it.scopedLive("a client that does not speak TLS fails its handshake: one log line and a count, never accepted; the listener serves on", () =>
    Effect.gen(function*() {
      const { listener, logs, port } = yield* tlsListener()
      const before = handshakeFailures()
      const plain = yield* Peer.connect(port)
      yield* plain.write("Michael\n")
      yield* plain.closed()
      yield* eventually(() => logs.length > 0)
      expect(logs).toEqual([
        `TLS handshake with 127.0.0.1:${plain.socket.localPort} failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)`
      ])
      expect(handshakeFailures()).toBe(before + 1)
      yield* TcpClient.connect({ port, tls: { ca: cert } })
      const served = yield* acceptOne(listener)
      expect(served.remote).toMatchObject({ _tag: "TcpAddress", hostname: "127.0.0.1" })
    }))

  it.scopedLive("a client that hangs up during the handshake is logged as such", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* tlsListener()
      const scope = yield* Scope.make()
      const peer = yield* Scope.extend(Peer.connect(port), scope)
      const peerPort = peer.socket.localPort
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => logs.length > 0)
      expect(logs).toEqual([`TLS handshake with 127.0.0.1:${peerPort} failed: the client closed the connection before it was done`])
    }))

  it.scopedLive("a client that never finishes its handshake is cut off after the handshake timeout", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* tlsListener({}, { handshakeTimeout: "300 millis" })
      const silent = yield* Peer.connect(port)
      const started = Date.now()
      yield* silent.closed()
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      yield* eventually(() => logs.length > 0)
      expect(logs).toEqual([`TLS handshake with 127.0.0.1:${silent.socket.localPort} failed: TLS handshake timeout (ERR_TLS_HANDSHAKE_TIMEOUT)`])
    }))

  it.scopedLive("closing the scope closes the connections still in their handshake, without waiting for their timeout", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { listener, port } = yield* Scope.extend(tlsListener({}, { handshakeTimeout: "60 seconds" }), scope)
      const silent = yield* Peer.connect(port)
      yield* TcpClient.connect({ port, tls: { ca: cert } })
      yield* acceptOne(listener)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - started).toBeLessThan(10_000)
      yield* silent.closed("1 second")
    }))

  it.scopedLive("stopAccepting closes the connections still in their handshake, and leaves those accepted open", () =>
    Effect.gen(function*() {
      const { listener, port } = yield* tlsListener()
      const client = yield* TcpClient.connect({ port, tls: { ca: cert } })
      const accepted = yield* acceptOne(listener)
      const silent = yield* Peer.connect(port)
      // Its TCP connection is accepted (the handshake waits for it) before accepting stops.
      yield* Effect.sleep("100 millis")
      yield* listener.stopAccepting
      yield* silent.closed("1 second")
      yield* accepted.write(new TextEncoder().encode("still here"))
      expect(text(yield* client.read)).toBe("still here")
    }))

  it.scopedLive("fails with reason Tls when the key is not the certificate's, or not PEM", () =>
    Effect.gen(function*() {
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" })
      const mismatch = yield* Effect.flip(TcpListener.make({ port: 0, tls: { cert, key: other } }))
      expect(mismatch.reason).toBe("Tls")
      expect(mismatch.message).toBe(
        "cannot listen on 127.0.0.1:0: the TLS certificate or key is unusable: key values mismatch (ERR_OSSL_X509_KEY_VALUES_MISMATCH)"
      )
      const notPem = yield* Effect.flip(TcpListener.make({ port: 0, tls: { cert: "not a certificate", key } }))
      expect(notPem.message).toBe("cannot listen on 127.0.0.1:0: the TLS certificate or key is unusable: no start line (ERR_OSSL_PEM_NO_START_LINE)")
    }))

  it.scopedLive("reads stay pulled: an unread connection stops taking data, the client blocks, and nothing is lost", () =>
    Effect.gen(function*() {
      const { listener, port } = yield* tlsListener()
      const peer = yield* tlsPeer(port)
      const connection = yield* acceptOne(listener)
      const total = 32 * 1024 * 1024
      const written = yield* Peer.flood(peer, total, Date.now() + 1500)
      // The kernel's buffers and TLS's own hold a few MB; the server has read at most a few records.
      expect(written).toBeLessThan(total)
      expect(connection.bytesRead()).toBeLessThan(256 * 1024)
      peer.end()
      expect(yield* Peer.receiveFlood(connection.reads)).toEqual({ received: written, intact: true })
    }))

  it.scopedLive("a stuck reader is cut off after the write timeout, with a reset", () =>
    Effect.gen(function*() {
      const { listener, port } = yield* tlsListener({ writeTimeout: "300 millis" })
      const peer = yield* tlsPeer(port)
      peer.pause()
      const connection = yield* acceptOne(listener)
      const error = yield* Effect.flip(connection.write(new Uint8Array(32 * 1024 * 1024)))
      expect(error.message).toBe(
        `closed the connection with 127.0.0.1:${peer.localPort}: it did not read our replies for 0.3 s (write timeout)`
      )
      // Reset, the TCP socket under the TLS one: the server's kernel drops what the peer never
      // read at once, instead of holding it behind a FIN (FIN-WAIT-1) while the peer does not read.
      yield* eventually(() => socketStates(port).every((state) => state === listening))
    }))

  it.scopedLive("a silent peer is cut off after the idle timeout", () =>
    Effect.gen(function*() {
      const { listener, port } = yield* tlsListener({ idleTimeout: "200 millis" })
      yield* tlsPeer(port)
      const connection: Connection = yield* acceptOne(listener)
      const error = yield* Effect.flip(Stream.runDrain(connection.reads))
      expect(error.message).toContain("no data sent or received for 0.2 s (idle timeout)")
    }))
})

describe("TcpClient over TLS", () => {
  /** A `node:tls` server (the fixture's certificate) that hands each connection to `onConnection`. */
  const tlsServer = (onConnection: (socket: Tls.TLSSocket) => void) =>
    listen(Tls.createServer({ cert, key }, (socket) => {
      socket.on("error", () => {})
      onConnection(socket)
    }))

  it.scopedLive("a stuck reader is cut off after the write timeout", () =>
    Effect.gen(function*() {
      const port = yield* tlsServer((socket) => socket.pause())
      const connection = yield* TcpClient.connect({ port, tls: { insecure: true }, writeTimeout: "300 millis" })
      const error = yield* Effect.flip(connection.write(new Uint8Array(32 * 1024 * 1024)))
      expect(error.message).toBe(`closed the connection with 127.0.0.1:${port}: it did not read our replies for 0.3 s (write timeout)`)
    }))

  it.scopedLive("trusts the CAs of `ca` only: a certificate they did not sign is not trusted", () =>
    Effect.gen(function*() {
      const port = yield* tlsServer((socket) => socket.end())
      const other = yield* selfSigned("other-ca")
      const error = yield* Effect.flip(TcpClient.connect({ port, tls: { ca: other.cert } }))
      expect(error.reason).toBe("Certificate")
      expect(error.message).toBe(`cannot connect to 127.0.0.1:${port}: its TLS certificate is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`)
      yield* TcpClient.connect({ port, tls: { ca: cert } })
    }))
})
