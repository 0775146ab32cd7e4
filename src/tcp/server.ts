/**
 * Serving a TCP listener: one fiber per accepted connection, each in its own scope, all in a
 * FiberSet owned by the server's scope (closing it interrupts them and closes their sockets).
 */
import { Cause, Effect, FiberSet, Layer, Stream } from "effect"
import { formatAddress } from "../address.js"
import type { TcpConnection } from "./connection.js"
import { TcpListener } from "./listener.js"

/** Serves one connection. It is ended gracefully when the handler succeeds, closed otherwise. */
export type Handler<E, R> = (connection: TcpConnection) => Effect.Effect<void, E, R>

/** Expected failures (resets, timeouts, protocol errors) are one warning line; defects keep their cause. */
const logFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some"
    ? Effect.logWarning(failure.value instanceof Error ? failure.value.message : String(failure.value))
    : Effect.logError("connection handler crashed", cause)
}

const serveConnection = <E, R>(handler: Handler<E, R>, connection: TcpConnection): Effect.Effect<void, never, R> => {
  const peer = formatAddress(connection.remote)
  return Effect.logInfo(`Accept new connection from ${peer}...`).pipe(
    Effect.zipRight(handler(connection)),
    Effect.zipRight(connection.end),
    Effect.catchAllCause(logFailure),
    Effect.ensuring(Effect.zipRight(
      connection.close,
      Effect.logInfo(`Connection from ${peer} closed.`)
    )),
    Effect.annotateLogs({ peer })
  )
}

/**
 * Accepts connections until interrupted, running `handler` for each in a fiber of its own.
 * Runs forever; interrupting it interrupts every connection's fiber and closes its socket.
 */
export const serve = <E, R>(handler: Handler<E, R>): Effect.Effect<never, never, TcpListener | R> =>
  Effect.scoped(Effect.gen(function*() {
    const listener = yield* TcpListener
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<R>()
    yield* Stream.runForEach(listener.accept, (connection) => Effect.sync(() => run(serveConnection(handler, connection))))
    return yield* Effect.never
  }))

/** Serves in the background for as long as the layer is alive. */
export const layer = <E, R>(handler: Handler<E, R>): Layer.Layer<never, never, TcpListener | R> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(handler)))
