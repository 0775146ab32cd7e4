/**
 * @effect/platform's `SocketServer.SocketServer` on effect-net's `TcpListener` and `TcpServer`:
 * what @effect/rpc's `RpcServer.layerProtocolSocketServer` and other platform consumers take. Each
 * connection's handler gets a `Socket.Socket` with backpressure (`PlatformSocket.fromConnection`:
 * the next read is pulled once the handler's Effect for the last one has completed).
 *
 * Where it differs from the platform's `NodeSocketServer`, besides the socket (see
 * `PlatformSocket`):
 * - The listener's options and defaults hold: a connection idle for `idleTimeout`, or that does
 *   not take our writes for `writeTimeout`, is cut off and its `run` fails (reason `Read` or
 *   `Write`).
 * - `run(handler)` is `TcpServer.serve`: at most `maxConnections` served at once; interrupting it
 *   shuts down gracefully (it stops accepting, each connection's `run` ends as if the peer had
 *   finished sending, the handlers get `shutdownGrace`, then the rest are closed). A later `run`
 *   cannot accept again.
 * - Once the handler is done, the connection is flushed and half-closed, then closed; when it
 *   failed, closed at once. Its failure is logged: a reset or a timeout of the peer at the
 *   routine level (see `Logging`), another failure at Warning, a defect at Error.
 * - The handler's context holds the accepted connection (`TcpConnection`), so `remoteAddress`
 *   tells the peer, also in the RPC handlers @effect/rpc runs for that connection.
 *
 * @since 0.1.0
 * @module
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Cause, Effect, Layer, Option, Predicate, type Scope } from "effect"
import type { Address } from "../address.js"
import { type Connection, TcpConnection } from "../tcp/connection.js"
import * as TcpListener from "../tcp/listener.js"
import * as TcpServer from "../tcp/server.js"
import { logRoutine } from "../internal/log.js"
import { fromConnection, type PlatformSocketOptions } from "./socket.js"

/**
 * The listener's options (`TcpListener.TcpListenerOptions`), the server's
 * (`TcpServer.TcpServerOptions`) and the sockets' (`PlatformSocket.PlatformSocketOptions`), in one.
 *
 * @example
 * ```ts
 * import { PlatformSocketServer } from "effect-net"
 *
 * const options: PlatformSocketServer.PlatformSocketServerOptions = {
 *   host: "0.0.0.0",
 *   port: 9000,
 *   maxConnections: 1000,
 *   idleTimeout: "1 minute",
 *   shutdownGrace: "10 seconds"
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface PlatformSocketServerOptions
  extends TcpListener.TcpListenerOptions, TcpServer.TcpServerOptions, PlatformSocketOptions
{}

/**
 * The peer's address, within a handler of this server (and the RPC handlers it runs); none elsewhere.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { formatAddress, PlatformSocketServer } from "effect-net"
 *
 * // Who is asking, for an RPC handler's log line.
 * const caller = Effect.map(PlatformSocketServer.remoteAddress, Option.match({ onNone: () => "unknown", onSome: formatAddress }))
 * console.log(await Effect.runPromise(caller)) // unknown
 * ```
 *
 * @since 0.1.0
 */
export const remoteAddress: Effect.Effect<Option.Option<Address>> = Effect.map(
  Effect.serviceOption(TcpConnection),
  Option.map((connection) => connection.remote)
)

/** A socket error the peer or our timeouts caused: routine for a server. */
const isRoutine = (error: unknown): boolean =>
  Socket.isSocketError(error) && (
    error.reason === "Close" ||
    Predicate.isTagged(error.cause, "TcpSocketError") ||
    Predicate.isTagged(error.cause, "TcpTimeoutError")
  )

/** A socket error's message says only its reason: the cause's message says what happened. */
const describe = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  return Socket.isSocketError(error) && cause instanceof Error ? `${message}: ${cause.message}` : message
}

const logFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const error = Cause.squash(cause)
  if (isRoutine(error)) return logRoutine(describe(error))
  if (Cause.isFailure(cause)) {
    return Effect.logWarning(`connection handler failed: ${describe(error)}`)
  }
  return Effect.logError("connection handler crashed", cause)
}

const serveSocket = <_, E, R>(
  handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>,
  connection: Connection,
  options: PlatformSocketOptions
): Effect.Effect<void, never, R> =>
  Effect.suspend(() => handler(fromConnection(connection, options))).pipe(
    Effect.asVoid,
    // Logged here, not by TcpServer: a socket error dies in @effect/rpc's handlers and is still routine.
    Effect.catchAllCause((cause) => Effect.zipRight(logFailure(cause), connection.close))
  )

/**
 * Binds with `TcpListener.make`; the scope owns the listener and every connection. Fails with
 * `SocketServerError` (reason `Open`, the `TcpListenError` as its cause) when it cannot bind.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect } from "effect"
 * import { PlatformSocketServer, TcpClient } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* PlatformSocketServer.make({ host: "127.0.0.1", port: 0 })
 *   // Each connection: one line, then the handler is done and the server half-closes it.
 *   yield* Effect.forkScoped(server.run((socket) => Effect.scoped(Effect.flatMap(socket.writer, (write) => write("hi")))))
 *   const port = server.address._tag === "TcpAddress" ? server.address.port : 0
 *   const client = yield* TcpClient.connect({ port })
 *   return new TextDecoder().decode(yield* client.read)
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // hi
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: PlatformSocketServerOptions = {}
): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make(options).pipe(
      Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Open", cause }))
    )
    return SocketServer.SocketServer.of({
      // The platform's shape: the listener's address as it is.
      address: listener.address,
      run: (handler) =>
        TcpServer.serve((connection) => serveSocket(handler, connection, options), options).pipe(
          Effect.provideService(TcpListener.TcpListener, listener)
        )
    })
  })

/**
 * `SocketServer.SocketServer` as a layer, e.g. for `RpcServer.layerProtocolSocketServer`.
 *
 * @example
 * ```ts
 * import { RpcSerialization, RpcServer } from "@effect/rpc"
 * import { Layer } from "effect"
 * import { PlatformSocketServer } from "effect-net"
 *
 * // @effect/rpc's server protocol, ndjson over effect-net's TCP server.
 * const RpcProtocol = RpcServer.layerProtocolSocketServer.pipe(
 *   Layer.provide(PlatformSocketServer.layer({ host: "0.0.0.0", port: 9000, maxConnections: 1000 })),
 *   Layer.provide(RpcSerialization.layerNdjson)
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: PlatformSocketServerOptions = {}
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, make(options))
