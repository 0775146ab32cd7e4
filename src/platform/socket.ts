/**
 * @effect/platform's `Socket.Socket` over effect-net's TCP connections, with backpressure: what
 * @effect/rpc's `RpcClient.layerProtocolSocket` and other platform consumers take. `makeNet` and
 * `layerNet` are the client (each `run` dials anew with `TcpClient`); `fromConnection` is the
 * socket `PlatformSocketServer` hands its handler for each accepted connection.
 *
 * Where the semantics differ from the platform's `NodeSocket` (0.97):
 * - `run` calls its handler for one read, and runs the Effect it returns to completion, before it
 *   pulls the next read (`TcpConnection.read`): replies keep the order of the reads, and a slow
 *   handler slows the peer (its sends wait in the kernel) instead of piling reads up in memory.
 *   The platform forks a fiber per `'data'` event and never pauses. So a handler must not wait
 *   for something the peer sends later on the same socket: fork that work.
 * - When the peer finishes sending (FIN), `run` returns once the handler of the last read is
 *   done, and the connection stays open for writing until `run`'s scope ends (the client then
 *   flushes and half-closes it). The platform interrupts the handlers still running.
 * - A reset is noticed at the next read or write, since nothing is read while a handler runs: the
 *   handler in progress finishes (its writes fail), then `run` fails with reason `Read`. The
 *   platform fails `run` at once, interrupting its handlers.
 * - Writing a `CloseEvent`: TCP carries no close code, so the peer sees end of stream after what
 *   was written before it (flushed, FIN, closed). Our `run` then ends, after the handler in
 *   progress, with `SocketCloseError` (`code`, `closeReason`), or succeeds when
 *   `closeCodeIsError(code)` is false (by default for 1000 and 1006): the rule of the platform's
 *   WebSocket. The platform's `NodeSocket` destroys at once (dropping writes still buffered) and
 *   fails `run` with reason `Read` for a code above 1000.
 * - Errors: `SocketGenericError` with reason `Open` or `OpenTimeout` (the platform reports a timeout
 *   as `Open`), `Read` or `Write`; their `cause` is effect-net's tagged error (`TcpConnectError`,
 *   `TcpSocketError`, `TcpTimeoutError`), whose own `cause` is Node's.
 * - The writer of a server's socket (`fromConnection`) needs no `run`: it can write a welcome
 *   before it, and a reply owed at end of stream after it. The platform's waits for a `run` (a
 *   welcome written before it deadlocks, and a write after it waits forever). The client's
 *   writer waits for a `run` to have connected, as the platform's. Either way writes wait while
 *   the peer does not read, and releasing the writer half-closes the connection, as in the
 *   platform.
 * - `runRaw` is `run` (TCP gives bytes only), as in the platform.
 * - `Socket.toChannel` is the platform's code over `runRaw` with a handler that returns at once:
 *   it still buffers reads without bound. For backpressure, use `run` with an Effect per read.
 */
import * as Socket from "@effect/platform/Socket"
import { Effect, Exit, Layer, Scope } from "effect"
import * as TcpClient from "../tcp/client.js"
import type { Connection, TcpError } from "../tcp/connection.js"

export interface PlatformSocketOptions {
  /**
   * Whether a `CloseEvent` with this code, written to the socket, makes `run` fail with
   * `SocketCloseError` (rather than succeed); default `Socket.defaultCloseCodeIsError`.
   */
  readonly closeCodeIsError?: ((code: number) => boolean) | undefined
}

const readError = (cause: TcpError) => new Socket.SocketGenericError({ reason: "Read", cause })
const writeError = (cause: TcpError) => new Socket.SocketGenericError({ reason: "Write", cause })

/** What `run` takes besides its handler (as @effect/platform's `Socket.run`). */
type RunOptions = { readonly onOpen?: Effect.Effect<void> | undefined }

/** A connection as a socket drives it: the run loop, the writes, and the `CloseEvent` written, if any. */
class Session {
  closed: Socket.CloseEvent | undefined
  constructor(readonly connection: Connection, readonly closeCodeIsError: (code: number) => boolean) {}

  /** Calls `handler` for each read, pulling the next read once the handler's Effect has completed. */
  run<_, E, R>(handler: (data: Uint8Array) => Effect.Effect<_, E, R> | void): Effect.Effect<void, Socket.SocketError | E, R> {
    const read = Effect.mapError(this.connection.read, readError)
    const loop: Effect.Effect<void, Socket.SocketError | E, R> = Effect.flatMap(read, (data) => {
      if (data === undefined) return this.ended
      const result = handler(data)
      return Effect.isEffect(result) ? Effect.zipRight(result, loop) : loop
    })
    return loop
  }

  /** How a run ends once the reads have: as the `CloseEvent` written says. */
  private get ended(): Effect.Effect<void, Socket.SocketCloseError> {
    return Effect.suspend(() => {
      const closed = this.closed
      return closed !== undefined && this.closeCodeIsError(closed.code)
        ? Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: closed.code, closeReason: closed.reason }))
        : Effect.void
    })
  }

  write(chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> {
    if (Socket.isCloseEvent(chunk)) return this.close(chunk)
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk
    return Effect.mapError(this.connection.write(bytes), writeError)
  }

  /** Ends the run at its next pull; flushes what was written, sends FIN and closes. */
  private close(event: Socket.CloseEvent): Effect.Effect<void> {
    const { connection } = this
    return Effect.sync(() => (this.closed ??= event)).pipe(
      Effect.zipRight(connection.stopReading),
      Effect.zipRight(Effect.ignore(connection.end)),
      Effect.zipRight(connection.close)
    )
  }

  /** What releasing the writer does, as in the platform: a half-close. */
  get end(): Effect.Effect<void> {
    return Effect.ignore(this.connection.end)
  }
}

const socket = (
  run: <_, E, R>(
    handler: (data: Uint8Array) => Effect.Effect<_, E, R> | void,
    opts?: RunOptions
  ) => Effect.Effect<void, Socket.SocketError | E, R>,
  write: (chunk: Uint8Array | string | Socket.CloseEvent) => Effect.Effect<void, Socket.SocketError>,
  releaseWriter: Effect.Effect<void>
): Socket.Socket =>
  Socket.Socket.of({
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run,
    writer: Effect.acquireRelease(Effect.succeed(write), () => releaseWriter)
  })

/**
 * A socket whose each `run` opens a connection with `open`, in `run`'s scope (which owns it). Its
 * writer waits until a run has its connection, as the platform's.
 */
export const fromOpen = (
  open: Effect.Effect<Connection, Socket.SocketError, Scope.Scope>,
  options: PlatformSocketOptions = {}
): Socket.Socket => {
  const closeCodeIsError = options.closeCodeIsError ?? Socket.defaultCloseCodeIsError
  const latch = Effect.unsafeMakeLatch(false)
  let current: Session | undefined
  return socket(
    (handler, opts) =>
      Effect.scopedWith((scope) =>
        Effect.gen(function*() {
          const session = new Session(yield* Scope.extend(open, scope), closeCodeIsError)
          yield* Scope.addFinalizer(
            scope,
            Effect.sync(() => {
              if (current !== session) return
              current = undefined
              latch.unsafeClose()
            })
          )
          current = session
          yield* latch.open
          if (opts?.onOpen !== undefined) yield* opts.onOpen
          return yield* session.run(handler)
        })
      ).pipe(Effect.interruptible),
    (chunk) => latch.whenOpen(Effect.suspend(() => current!.write(chunk))),
    Effect.suspend(() => current?.end ?? Effect.void)
  )
}

/**
 * The socket of a connection someone else owns (`PlatformSocketServer` does). Its writer needs no
 * run: it writes before the first (a welcome) and after the last (a reply owed at end of stream).
 * A later `run` goes on reading where the last one stopped.
 */
export const fromConnection = (connection: Connection, options: PlatformSocketOptions = {}): Socket.Socket => {
  const session = new Session(connection, options.closeCodeIsError ?? Socket.defaultCloseCodeIsError)
  return socket(
    (handler, opts) =>
      Effect.interruptible(
        opts?.onOpen === undefined ? session.run(handler) : Effect.zipRight(opts.onOpen, session.run(handler))
      ),
    (chunk) => session.write(chunk),
    session.end
  )
}

/**
 * A client socket: each `run` connects with `TcpClient.connect` (within `connectTimeout`, TLS
 * with `tls`), and its scope closes the connection, flushed and half-closed first (within
 * `writeTimeout`, if set) when `run` succeeded. @effect/rpc's client reconnects by running again.
 */
export const makeNet = (options: TcpClient.TcpClientOptions & PlatformSocketOptions): Effect.Effect<Socket.Socket> =>
  Effect.sync(() =>
    fromOpen(
      TcpClient.connect(options).pipe(
        Effect.mapError((cause) =>
          new Socket.SocketGenericError({ reason: cause.reason === "Timeout" ? "OpenTimeout" : "Open", cause })
        ),
        // Registered after TcpClient's close, so it runs before it.
        Effect.tap((connection) =>
          Effect.addFinalizer((exit) => Exit.isSuccess(exit) ? Effect.ignore(connection.end) : Effect.void)
        )
      ),
      options
    )
  )

/** `Socket.Socket` for clients (see `makeNet`), e.g. for `RpcClient.layerProtocolSocket`. */
export const layerNet = (options: TcpClient.TcpClientOptions & PlatformSocketOptions): Layer.Layer<Socket.Socket> =>
  Layer.effect(Socket.Socket, makeNet(options))
