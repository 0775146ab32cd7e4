/**
 * A listening TCP socket as a scoped resource: bound when acquired, and on scope close it stops
 * accepting and closes every connection it accepted that is still open. With `tls`, it speaks
 * TLS (a connection is accepted once its handshake is done); with `path`, it listens on a Unix
 * domain socket.
 */
import { Context, Duration, Effect, Layer, Queue, Runtime, type Scope, Stream } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { type Address, formatAddress, tcpAddress, unixAddress } from "../address.js"
import { describeError } from "../internal/os-error.js"
import * as Metrics from "../metrics/metrics.js"
import * as Idle from "../internal/idle.js"
import { rateLimited } from "../internal/rate-limit.js"
import { logRoutine } from "../internal/log.js"
import { limits, make as fromConnected, type SocketConnection } from "../internal/socket-connection.js"
import type { Connection, TcpConnectionOptions } from "./connection.js"
import { TcpListenError } from "./errors.js"
import { describeHandshakeFailure, serverOptions, tcpSocketOf } from "../internal/tls.js"
import { type TcpListenerTlsOptions, defaults as tlsDefaults } from "./tls.js"
import * as ProxyGate from "./proxy-gate.js"
import type * as ProxyProtocol from "./proxy-protocol.js"
import * as Unix from "../internal/unix-socket.js"

export type { TcpListenerTlsOptions } from "./tls.js"

/**
 * Server-side connection timeouts default to 300 s idle and 30 s for a write (0 turns one off):
 * a peer cannot hold a connection, or our memory, forever.
 */
export interface TcpListenerOptions extends TcpConnectionOptions {
  /** Address to bind; default 127.0.0.1 (loopback only, as the tutorial). */
  readonly host?: string | undefined
  /** Port to bind; 0 (the default) lets the OS pick a free one, see `address`. */
  readonly port?: number | undefined
  /** Length of the kernel's queue of connections not yet accepted. */
  readonly backlog?: number | undefined
  /**
   * Listen on a Unix domain socket at this path (at most 107 bytes) instead of `host` and
   * `port`. A socket file left by a crashed run is replaced when nothing listens on it; the
   * file is removed when the listener closes.
   */
  readonly path?: string | undefined
  /** With `path`: the socket file's permissions, such as `0o660` (default: what the umask leaves). */
  readonly mode?: number | undefined
  /**
   * Speak TLS with this certificate and key (see `TcpListenerTlsOptions`). A connection is
   * accepted once its handshake is done; a failed handshake is logged (at info) and counted
   * (`effect_net_tcp_tls_handshake_failures_total`), and closes that connection only.
   */
  readonly tls?: TcpListenerTlsOptions | undefined
  /**
   * Behind a load balancer that sends the PROXY protocol (v1 or v2): each connection's header
   * is read before the connection is handed over, and its `remote` is the client the header
   * names. Connections from peers not `trusted`, or without a valid header, are closed (one log
   * line each, counted in `effect_net_tcp_proxy_rejected_total`). Default: off. Not with `tls`
   * (the header comes before the handshake: terminate TLS at the balancer).
   */
  readonly proxyProtocol?: ProxyProtocol.ListenerOptions | undefined
  /**
   * Most connections accepted and not yet handed over at once: those in their TLS handshake,
   * awaiting their PROXY protocol header, or waiting in `accept` for a consumer. Beyond it, a new
   * connection is closed at once (counted in `effect_net_tcp_pending_refused_total`). Default 1,024.
   */
  readonly maxPending?: number | undefined
}

export interface TcpListener {
  /** The bound address, with the real port when port 0 was asked (a Unix socket's: see `unixAddress`). */
  readonly address: Address
  /**
   * Accepted connections, in order. Each is open until its `close`, or until the listener's
   * scope closes. Ends when `stopAccepting` runs. Reads wait until the consumer pulls them.
   * While they wait to be taken, connections count against `maxPending`, and the idle timeout
   * closes them (a closed one is never handed out).
   */
  readonly accept: Stream.Stream<Connection>
  /**
   * Hands each accepted connection to `onAccept` within the accept event itself, instead of
   * through `accept`, for as long as the scope is open (a server: a fiber wake-up less per
   * connection). Connections accepted before are handed over first.
   */
  readonly acceptWith: (onAccept: (connection: Connection) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Stops accepting (the port is released); connections already accepted stay open. */
  readonly stopAccepting: Effect.Effect<void>
  /** How many accepted connections are open now. */
  readonly openConnections: () => number
}

/** The listener a server serves (see `TcpServer`). */
export const TcpListener: Context.Tag<TcpListener, TcpListener> = Context.GenericTag<TcpListener>("effect-net/TcpListener")

export const defaults = {
  host: "127.0.0.1",
  backlog: 511,
  maxPending: 1024,
  idleTimeout: Duration.seconds(300),
  writeTimeout: Duration.seconds(30),
  tlsHandshakeTimeout: tlsDefaults.handshakeTimeout
} as const

/**
 * Starts listening as `target` says; fails with the OS error. Node completes a listen later (in a
 * cluster worker, after a round trip to the primary), and a `close` before then does not stop it:
 * interrupted meanwhile, the server is closed once the listen completes, else a worker stopped as
 * it came up would go on listening, and never exit. Not waited for: a cluster primary may never
 * answer (a worker that asks just after another's bind failed is not told).
 */
const listen = (server: Net.Server, target: Net.ListenOptions) =>
  Effect.async<void, Error>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(cause))
    server.once("error", onError)
    server.listen(target, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
    return Effect.sync(() => {
      // The error of a listen nobody waits for any more must not be an uncaught exception.
      server.off("error", onError).on("error", () => {})
      if (server.listening) server.close()
      else server.once("listening", () => server.close())
    })
  })

/** Binds and listens; the scope owns the listening socket and every accepted connection. */
export const make = (options: TcpListenerOptions = {}): Effect.Effect<TcpListener, TcpListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const { path, tls } = options
    const host = options.host ?? defaults.host
    const port = options.port ?? 0
    const target = path === undefined ? tcpAddress(host, port) : unixAddress(path)
    const backlog = options.backlog ?? defaults.backlog
    if (tls !== undefined && options.proxyProtocol !== undefined) {
      // The header would come before the handshake, which Node's TLS server does itself.
      const cause = new Error("the PROXY protocol over TLS is not supported; terminate TLS at the balancer")
      return yield* new TcpListenError({ address: target, reason: "Other", cause })
    }
    const connectionLimits = limits({
      idleTimeout: options.idleTimeout ?? defaults.idleTimeout,
      writeTimeout: options.writeTimeout ?? defaults.writeTimeout
    }, path)
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const maxPending = options.maxPending ?? defaults.maxPending
    const queue = yield* Queue.unbounded<SocketConnection>()
    const open = new Set<Net.Socket>()
    /** With TLS, the TCP sockets accepted whose handshake is not done: closed when accepting stops. */
    const handshaking = new Set<Net.Socket>()
    /** Accepted and not handed over: awaiting a PROXY header, or in `queue`. A socket leaves when it closes. */
    const untaken = new Set<Net.Socket>()
    function leaveUntaken(this: Net.Socket) {
      untaken.delete(this)
    }
    const hold = (socket: Net.Socket) => {
      untaken.add(socket)
      socket.once("close", leaveUntaken)
    }
    const release = (socket: Net.Socket) => {
      if (untaken.delete(socket)) socket.off("close", leaveUntaken)
    }
    let consumer: ((connection: Connection) => void) | undefined
    const deliver = (connection: SocketConnection) => {
      if (consumer === undefined) {
        if (!untaken.has(connection.socket)) hold(connection.socket)
        return Queue.unsafeOffer(queue, connection)
      }
      release(connection.socket)
      consumer(connection)
    }
    /** Refuses a connection over `maxPending`; counted, and one line a second at most. */
    const refusals = rateLimited((count) => `refused ${count} connection(s): ${maxPending} accepted and not yet served (maxPending)`)
    const admissible = (socket: Net.Socket): boolean => {
      if (untaken.size + handshaking.size < maxPending) return true
      socket.destroy()
      Metrics.pendingRefused.unsafeUpdate(1, Metrics.noTags)
      const line = refusals()
      if (line !== undefined) runSync(Effect.logWarning(line))
      return false
    }
    const gate = options.proxyProtocol === undefined ? undefined : yield* ProxyGate.make(options.proxyProtocol)
    /** Closes the connections accepted but not yet handed over (whose PROXY header is awaited). */
    const stopPending = gate?.stop ?? Effect.void

    // allowHalfOpen: a peer's FIN ends our reads but we may still owe it replies. Under TLS, from
    // the handshake's end on: a peer that hangs up during the handshake is closed at once.
    // pauseOnConnect: nothing is read until the handler pulls. Under TLS, the handshake reads
    // (Node starts it), and then up to a buffer's worth (16 KiB) waits for the handler's pull.
    const netOptions = { allowHalfOpen: tls === undefined, pauseOnConnect: true, noDelay: true }
    const server = yield* Effect.acquireRelease(
      Effect.try({
        try: () => tls === undefined ? Net.createServer(netOptions) : Tls.createServer({ ...netOptions, ...serverOptions(tls) }),
        catch: (cause) => new TcpListenError({ address: target, reason: "Tls", cause })
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const socket of open) socket.destroy()
          for (const socket of handshaking) socket.destroy()
          if (!server.listening) return resume(Effect.void)
          server.close(() => resume(Effect.void))
        }).pipe(Effect.zipRight(Queue.shutdown(queue)))
    )
    yield* path === undefined
      ? Effect.mapError(listen(server, { host, port, backlog }), (cause) => TcpListenError.fromCause(target, cause))
      : Unix.bind(path, options.mode, listen(server, { path, backlog }))

    // Before the sockets are destroyed: a header read cut short is no refusal to log.
    yield* Effect.addFinalizer(() => stopPending)

    // After binding, errors are accept failures (EMFILE and the like). libuv keeps listening and,
    // out of descriptors, closes what it cannot accept; we count them and log once a second at most.
    const acceptFailures = rateLimited((count, cause) => `accept failed ${count} time(s): ${describeError(cause)}; still listening`)
    server.on("error", (cause) => {
      Metrics.acceptErrors.unsafeUpdate(1, Metrics.noTags)
      const line = acceptFailures(cause)
      if (line !== undefined) runSync(Effect.logWarning(line))
    })
    if (tls === undefined && gate === undefined) {
      server.on("connection", (socket: Net.Socket) => {
        if (admissible(socket)) deliver(fromConnected(socket, connectionLimits, open))
      })
    } else if (gate !== undefined) {
      // Handed over once their header is read: to whoever takes connections by then.
      server.on("connection", (socket: Net.Socket) => {
        if (!admissible(socket)) return
        hold(socket)
        gate.admit(fromConnected(socket, connectionLimits, open), deliver as (connection: Connection) => void)
      })
    } else {
      function leave(this: Net.Socket) {
        handshaking.delete(this)
      }
      server.on("connection", (socket: Net.Socket) => {
        if (!admissible(socket)) return
        // Asked now, Node keeps it: a failed handshake's log line names the peer.
        void socket.remoteAddress
        handshaking.add(socket)
        socket.once("close", leave)
      })
      server.on("secureConnection", (socket: Tls.TLSSocket) => {
        const tcp = tcpSocketOf(socket)
        handshaking.delete(tcp)
        tcp.off("close", leave)
        socket.allowHalfOpen = true
        deliver(fromConnected(socket, connectionLimits, open))
      })
      // Node has already ended the handshake (or does so now): one line and a count, and that connection closed.
      server.on("tlsClientError", (cause: Error, socket: Tls.TLSSocket) => {
        socket.destroy()
        Metrics.tlsHandshakeFailures.unsafeUpdate(1, Metrics.noTags)
        const tcp = tcpSocketOf(socket)
        const peer = formatAddress(path === undefined ? tcpAddress(tcp.remoteAddress ?? "unknown", tcp.remotePort ?? 0) : unixAddress(path))
        runSync(logRoutine(`TLS handshake with ${peer} failed: ${describeHandshakeFailure(cause)}`).pipe(Effect.annotateLogs({ peer })))
      })
    }
    const { idleMillis } = connectionLimits
    if (idleMillis !== undefined) {
      const sweeper = Idle.sweep(open, idleMillis)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sweeper)))
    }

    const stopAccepting = Effect.sync(() => {
      if (server.listening) server.close()
      for (const socket of handshaking) socket.destroy()
    }).pipe(
      Effect.zipRight(stopPending),
      // Connections accepted but not yet taken (or still in their TLS handshake, or their PROXY header) will not be served: close them now.
      Effect.zipRight(Queue.takeAll(queue)),
      Effect.flatMap(Effect.forEach((connection) => connection.close, { discard: true })),
      Effect.zipRight(Queue.shutdown(queue))
    )

    const acceptWith = (onAccept: (connection: Connection) => void) =>
      Effect.acquireRelease(
        Effect.map(Queue.takeAll(queue), (waiting) => {
          consumer = onAccept
          for (const connection of waiting) if (!connection.socket.destroyed) deliver(connection)
        }),
        () => Effect.sync(() => (consumer = undefined))
      )

    const bound = server.address() as Net.AddressInfo
    return {
      address: path === undefined ? tcpAddress(bound.address, bound.port) : unixAddress(path),
      // One per pull: a consumer that stops early must not take (and drop) connections queued behind.
      accept: Stream.fromQueue(queue, { maxChunkSize: 1 }).pipe(
        // One that idled out while it waited is not handed out.
        Stream.filter((connection) => !connection.socket.destroyed),
        Stream.tap((connection) => Effect.sync(() => release(connection.socket)))
      ),
      acceptWith,
      stopAccepting,
      openConnections: () => open.size
    } satisfies TcpListener
  })

/** The listener as a layer, for programs that serve on it (see `TcpServer`). */
export const layer = (options: TcpListenerOptions = {}): Layer.Layer<TcpListener, TcpListenError> =>
  Layer.scoped(TcpListener, make(options))
