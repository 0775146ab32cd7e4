/**
 * @effect/platform's `SocketServer.SocketServer` on effect-net's `TcpListener` and `TcpServer`:
 * what @effect/rpc's `RpcServer.layerProtocolSocketServer` and other platform consumers take. Each
 * connection's handler gets a `Socket.Socket` with backpressure (`PlatformSocket.fromConnection`:
 * the next read is pulled once the handler's Effect for the last one has completed).
 *
 * Where the semantics differ from the platform's `NodeSocketServer` (0.97), besides the socket's
 * (see `PlatformSocket`):
 * - The listener's options and defaults hold: a connection that sends nothing for `idleTimeout`
 *   (300 s), or does not take our writes for `writeTimeout` (30 s), is cut off and its `run`
 *   fails (reason `Read` or `Write`). The platform has no timeouts.
 * - `run(handler)` is `TcpServer.serve`: at most `maxConnections` (10,000) served at once;
 *   interrupting it (closing the layer that forked it) shuts down gracefully: it stops accepting,
 *   each connection's `run` ends as if the peer had finished sending, the handlers get
 *   `shutdownGrace` (5 s) to finish, then the rest are closed. The platform interrupts them all
 *   at once; a later `run` cannot accept again here.
 * - Once the handler is done, the connection is flushed and half-closed, then closed; when it
 *   failed, closed at once. Its failure is logged: a reset or a timeout of the peer at info,
 *   another failure at warning, a defect at error (the platform logs them at debug, unseen).
 *   Each connection also logs one line when accepted and one when closed, at info.
 * - The handler's context holds the accepted connection (`TcpConnection`, as every TcpServer
 *   handler's does; the platform gives the Node socket as `NodeSocket.NetSocket`, absent here):
 *   `remoteAddress` reads the peer's address from it,
 *   also in the RPC handlers @effect/rpc runs for that connection.
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

export interface PlatformSocketServerOptions
  extends TcpListener.TcpListenerOptions, TcpServer.TcpServerOptions, PlatformSocketOptions
{}

/** The peer's address, within a handler of this server (and the RPC handlers it runs); none elsewhere. */
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

/** Binds with `TcpListener.make`; the scope owns the listener and every connection. */
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

/** `SocketServer.SocketServer` as a layer, e.g. for `RpcServer.layerProtocolSocketServer`. */
export const layer = (
  options: PlatformSocketServerOptions = {}
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, make(options))
