/**
 * A listening TCP socket as a scoped resource: bound when acquired, and on scope close it stops
 * accepting and closes every connection it accepted that is still open.
 */
import { Context, Duration, Effect, Layer, Queue, Runtime, type Scope, Stream } from "effect"
import * as Net from "node:net"
import { describeError, type SocketAddress } from "../address.js"
import * as Metrics from "../metrics/metrics.js"
import { type Connection, fromAccepted, limits, sweepIdle, type TcpConnectionOptions } from "./connection.js"
import { TcpListenError } from "./errors.js"
import * as ProxyGate from "./proxy-gate.js"
import type * as ProxyProtocol from "./proxy-protocol.js"

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
   * Behind a load balancer that sends the PROXY protocol (v1 or v2): each connection's header
   * is read before the connection is handed over, and its `remote` is the client the header
   * names. Connections from peers not `trusted`, or without a valid header, are closed (one log
   * line each, counted in `effect_net_tcp_proxy_rejected_total`). Default: off.
   */
  readonly proxyProtocol?: ProxyProtocol.ListenerOptions | undefined
}

export interface Listener {
  /** The bound address, with the real port when port 0 was asked. */
  readonly address: SocketAddress
  /**
   * Accepted connections, in order. Each is open until its `close`, or until the listener's
   * scope closes. Ends when `stopAccepting` runs. Reads wait until the consumer pulls them.
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
export class TcpListener extends Context.Tag("effect-net/TcpListener")<TcpListener, Listener>() {}

export const defaults = {
  host: "127.0.0.1",
  backlog: 511,
  idleTimeout: Duration.seconds(300),
  writeTimeout: Duration.seconds(30)
} as const

/** Binds and listens; the scope owns the listening socket and every accepted connection. */
export const make = (options: TcpListenerOptions = {}): Effect.Effect<Listener, TcpListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? defaults.host
    const port = options.port ?? 0
    const connectionLimits = limits({
      idleTimeout: options.idleTimeout ?? defaults.idleTimeout,
      writeTimeout: options.writeTimeout ?? defaults.writeTimeout
    })
    const runtime = yield* Effect.runtime<never>()
    const queue = yield* Queue.unbounded<Connection>()
    const open = new Set<Net.Socket>()
    let deliver = (connection: Connection): unknown => Queue.unsafeOffer(queue, connection)
    const gate = options.proxyProtocol === undefined ? undefined : yield* ProxyGate.make(options.proxyProtocol)
    /** Closes the connections accepted but not yet handed over (whose PROXY header is awaited). */
    const stopPending = gate?.stop ?? Effect.void

    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server, TcpListenError>((resume) => {
        // allowHalfOpen: a peer's FIN ends our reads but we may still owe it replies.
        // pauseOnConnect: nothing is read until the handler pulls.
        const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
        const onError = (cause: Error) => {
          server.close()
          resume(Effect.fail(TcpListenError.fromCause(host, port, cause)))
        }
        server.once("error", onError)
        server.listen({ host, port, backlog: options.backlog ?? defaults.backlog }, () => {
          server.off("error", onError)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const socket of open) socket.destroy()
          if (!server.listening) return resume(Effect.void)
          server.close(() => resume(Effect.void))
        }).pipe(Effect.zipRight(Queue.shutdown(queue)))
    )

    // Before the sockets are destroyed: a header read cut short is no refusal to log.
    yield* Effect.addFinalizer(() => stopPending)

    // After binding, errors are accept failures (EMFILE and the like). libuv keeps listening and,
    // out of descriptors, closes what it cannot accept; we count them and log once a second at most.
    const runSync = Runtime.runSync(runtime)
    let lastLogged = 0
    let unlogged = 0
    server.on("error", (cause) => {
      Metrics.acceptErrors.unsafeUpdate(1, Metrics.noTags)
      unlogged++
      if (Date.now() - lastLogged < 1000) return
      lastLogged = Date.now()
      runSync(Effect.logWarning(`accept failed ${unlogged} time(s): ${describeError(cause)}; still listening`))
      unlogged = 0
    })
    if (gate === undefined) {
      server.on("connection", (socket: Net.Socket) => deliver(fromAccepted(socket, connectionLimits, open)))
    } else {
      // Handed over once their header is read: to whoever takes connections by then.
      const handOver = (connection: Connection) => deliver(connection)
      server.on("connection", (socket: Net.Socket) => gate.admit(fromAccepted(socket, connectionLimits, open), handOver))
    }
    const { idleMillis } = connectionLimits
    if (idleMillis !== undefined) {
      const sweeper = sweepIdle(open, idleMillis)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sweeper)))
    }

    const stopAccepting = Effect.sync(() => server.listening && server.close()).pipe(
      Effect.zipRight(stopPending),
      // Connections accepted but not yet taken will not be served: close them now.
      Effect.zipRight(Queue.takeAll(queue)),
      Effect.flatMap(Effect.forEach((connection) => connection.close, { discard: true })),
      Effect.zipRight(Queue.shutdown(queue))
    )

    const acceptWith = (onAccept: (connection: Connection) => void) =>
      Effect.acquireRelease(
        Effect.map(Queue.takeAll(queue), (waiting) => {
          deliver = onAccept
          for (const connection of waiting) onAccept(connection)
        }),
        () => Effect.sync(() => (deliver = (connection) => Queue.unsafeOffer(queue, connection)))
      )

    const bound = server.address() as Net.AddressInfo
    return {
      address: { host: bound.address, port: bound.port },
      // One per pull: a consumer that stops early must not take (and drop) connections queued behind.
      accept: Stream.fromQueue(queue, { maxChunkSize: 1 }),
      acceptWith,
      stopAccepting,
      openConnections: () => open.size
    } satisfies Listener
  })

/** The listener as a layer, for programs that serve on it (see `TcpServer`). */
export const layer = (options: TcpListenerOptions = {}): Layer.Layer<TcpListener, TcpListenError> =>
  Layer.scoped(TcpListener, make(options))
