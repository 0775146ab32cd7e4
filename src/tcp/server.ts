/**
 * Serving a TCP listener: one fiber per accepted connection, started within the accept event,
 * each handler in a Scope of its own that closes when its connection ends. A connection limit
 * (reject with a busy message, or queue until a slot frees), and a graceful shutdown: stop
 * accepting at once, let each connection finish what it is doing (reads end as if the peer had
 * finished), interrupt the rest after a grace period.
 *
 * What a server holds per open connection counts (idle memory, churn): a handler's Scope is made
 * when it is first used, and goes into the fiber's context as the fiber is forked; the end of a
 * conversation (a graceful end, the close, the scope's) is run by the server's observer of the
 * fiber, so that a waiting connection holds no frame of the server's; the open connections are
 * in a plain Map, with a counter for the limit.
 *
 * @since 0.1.0
 * @module
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, FiberRef, FiberRefs, FiberSet, Layer, LogLevel, Predicate, Runtime, Scope } from "effect"
import { type Address, formatAddress } from "../address.js"
import { LazyScope } from "../internal/lazy-scope.js"
import { logAbout, logRoutine } from "../internal/log.js"
import { ConnectionScheduler, wake } from "../internal/scheduler.js"
import { isOpen, own } from "../internal/socket-connection.js"
import { connectionsAccepted, connectionsActive, connectionsRejected, currentRecorder } from "../internal/metrics.js"
import { type Connection, TcpConnection } from "./connection.js"
import { TcpListener } from "./listener.js"

/**
 * Serves one connection, in a Scope of its own (closed when the connection ends), with the
 * connection also in its context (`TcpConnection`). The connection is ended gracefully when the
 * handler succeeds, closed otherwise.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import type { TcpServer } from "effect-net"
 *
 * // Echoes every byte back until the peer finishes sending.
 * const echo: TcpServer.Handler<never, never> = (connection) =>
 *   Stream.runForEach(connection.reads, connection.write).pipe(Effect.ignore)
 * ```
 *
 * @since 0.1.0
 */
export type Handler<E, R> = (connection: Connection) => Effect.Effect<void, E, R>

/**
 * How a server serves: its connection limit and what happens at it, its shutdown, and a hook
 * for each closed connection.
 *
 * @example
 * ```ts
 * import type { TcpServer } from "effect-net"
 *
 * const options: TcpServer.TcpServerOptions = {
 *   maxConnections: 1000,
 *   busyMessage: new TextEncoder().encode("busy, try later\n"),
 *   shutdownGrace: "10 seconds"
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface TcpServerOptions {
  /** Most connections served at once; default 10,000 (see `defaults`). */
  readonly maxConnections?: number | undefined
  /**
   * At the limit, hold new connections (accepted, unread) until a slot frees, instead of
   * refusing them: at most `maxConnections` wait (beyond, they are refused), and the listener's
   * idle timeout closes those that wait too long.
   */
  readonly queueWhenFull?: boolean | undefined
  /** Written to a connection refused at the limit, before it is closed. */
  readonly busyMessage?: Uint8Array | undefined
  /** How long a shutdown waits for connections to finish before closing them; default 5 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** When this completes, a shutdown in progress stops waiting (a second Ctrl+C). */
  readonly forceShutdown?: Effect.Effect<void> | undefined
  /**
   * Runs once each connection is closed, however its handler ended, after its scope: a line or
   * a count that costs nothing while the connection waits (a finalizer in the handler's scope
   * costs memory per open connection).
   */
  readonly onClose?: ((connection: Connection) => Effect.Effect<void>) | undefined
}

/**
 * The options' defaults.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TcpServer } from "effect-net"
 *
 * console.log(TcpServer.defaults.maxConnections, Duration.format(TcpServer.defaults.shutdownGrace)) // 10000 5s
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  maxConnections: 10_000,
  shutdownGrace: Duration.seconds(5)
} as const

/** How long a refused connection may take to receive the busy message. */
const rejectTimeout = Duration.seconds(1)

/** What ends a connection that the peer or our policies caused: routine for a server. */
const isRoutine = (error: unknown) =>
  Predicate.isTagged(error, "TcpSocketError") || Predicate.isTagged(error, "TcpTimeoutError")

/** A failure is one line about the peer (routine, or a warning); a defect is an error with its cause. */
const logFailure = (cause: Cause.Cause<unknown>, remote: Address): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return logAbout(LogLevel.Error, remote, () => "connection handler crashed", cause)
  const message = failure.value instanceof Error ? failure.value.message : String(failure.value)
  return logAbout(isRoutine(failure.value) ? "routine" : LogLevel.Warning, remote, () => message)
}

/**
 * A connection's fiber: owned by it (its reads need no canceler: when it ends, the connection is
 * closed), then the handler. Its Scope is in its context, from its fork on.
 */
const conversation = <E, R>(handler: Handler<E, R>, connection: Connection): Effect.Effect<void, E, R> =>
  Effect.withFiberRuntime<void, E, R>((fiber) => {
    own(connection, fiber)
    return Effect.zipRight(logAbout(LogLevel.Debug, connection.remote, (peer) => `connection from ${peer} accepted`), handler(connection))
  })

/**
 * The end of a conversation, run once its fiber has ended: after a handler that succeeded, a
 * graceful end (interruptible: a shutdown past its grace cuts it short); then, whatever happened,
 * the failure's line, the close, the scope's close, `onClose`, and a line.
 */
const closing = (
  connection: Connection,
  scope: Scope.CloseableScope,
  exit: Exit.Exit<unknown, unknown>,
  onClose: TcpServerOptions["onClose"]
): Effect.Effect<void> =>
  Effect.ignore(Effect.onExit(Exit.isSuccess(exit) ? connection.end : Effect.void, (ended) => {
    const failure = Exit.isFailure(exit) ? exit : ended
    return Effect.zipRight(
      Exit.isSuccess(failure) ? connection.close : Effect.zipRight(logFailure(failure.cause, connection.remote), connection.close),
      Effect.zipRight(
        Effect.zipRight(Scope.close(scope, exit), onClose === undefined ? Effect.void : onClose(connection)),
        logAbout(LogLevel.Debug, connection.remote, (peer) => `connection from ${peer} closed`)
      )
    )
  }))

/**
 * A server serving in the background (see `make`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpServer } from "effect-net"
 *
 * const load = Effect.map(TcpServer.TcpServer, (server) => server.connections())
 * ```
 *
 * @since 0.1.0
 */
export interface TcpServer {
  /** Where it serves: its listener's address. */
  readonly address: Address
  /** How many connections its handlers serve now. */
  readonly connections: () => number
}

/**
 * The server a program serves with (see `layer`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { formatAddress, TcpServer } from "effect-net"
 *
 * const where = Effect.map(TcpServer.TcpServer, (server) => formatAddress(server.address))
 * ```
 *
 * @since 0.1.0
 */
export const TcpServer: Context.Tag<TcpServer, TcpServer> = Context.GenericTag<TcpServer>("effect-net/TcpServer")

/**
 * Serves the `TcpListener` in the background of the scope, running `handler` for each accepted
 * connection in a fiber of its own; closing the scope shuts down gracefully (see
 * `TcpServerOptions`).
 *
 * Handler code, and the fibers it forks, run on the scheduler of the fiber that runs `make`
 * (Effect's default): only the wake-up of a fiber by its socket's event runs within that event.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { TcpClient, type TcpConnection, TcpListener, TcpServer } from "effect-net"
 *
 * const echo = (connection: TcpConnection.Connection) =>
 *   Stream.runForEach(connection.reads, connection.write).pipe(Effect.ignore)
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* TcpServer.make(echo)
 *   const address = server.address
 *   const client = yield* TcpClient.connect({ port: address._tag === "TcpAddress" ? address.port : 0 })
 *   yield* client.write(new TextEncoder().encode("ping"))
 *   return new TextDecoder().decode(yield* client.read)
 * }).pipe(Effect.scoped, Effect.provide(TcpListener.layer({ host: "127.0.0.1", port: 0 })))
 *
 * console.log(await Effect.runPromise(program)) // ping
 * ```
 *
 * @since 0.1.0
 */
export const make = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Effect.Effect<TcpServer, never, TcpListener | Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const listener = yield* TcpListener
    const maxConnections = options.maxConnections ?? defaults.maxConnections
    const grace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
    const runtime = yield* Effect.runtime<Exclude<R, Scope.Scope>>()
    // The connection fibers' runtime: the server's, on a scheduler that runs a fiber within the
    // socket event that wakes it; each gets a context of its own, with its Scope.
    const { context, fiberRefs, runtimeFlags } = Runtime.setFiberRef(
      runtime,
      FiberRef.currentScheduler,
      new ConnectionScheduler(FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentScheduler))
    )
    /** The server's own fibers: refusals at the limit, ended when the shutdown begins, and the ends of conversations. */
    const refusing = yield* FiberSet.make<void>()
    const refuse = yield* FiberSet.runtime(refusing)<never>()
    /** The ends of conversations under way (see `closing`), in the server's runtime. */
    const ending = new Set<Fiber.RuntimeFiber<void>>()
    const runEnd = Runtime.runFork(Runtime.make({ context, fiberRefs, runtimeFlags }) as Runtime.Runtime<never>)
    function ended(this: Fiber.RuntimeFiber<void>) {
      ending.delete(this)
    }
    /** The connections being served, and their fibers. */
    const serving = new Map<Connection, Fiber.RuntimeFiber<void, E>>()
    /** Connections accepted at the limit, with `queueWhenFull`, waiting for a slot (accepted, unread). */
    const waiting: Array<Connection> = []
    let shuttingDown = false
    let accepted = 0
    const metrics = yield* currentRecorder
    /** Completed when the last connection's handler is done, during a shutdown. */
    const drained = yield* Deferred.make<void>()

    const start = (connection: Connection) => {
      const scope = new LazyScope()
      const connectionContext = Context.merge(context, Context.make(Scope.Scope, scope).pipe(Context.add(TcpConnection, connection)))
      const connectionRuntime = Runtime.make({ context: connectionContext, fiberRefs, runtimeFlags })
      // The Scope that R may require is in the context just made.
      const fiber = Runtime.runFork(connectionRuntime as Runtime.Runtime<R>)(conversation(handler, connection))
      serving.set(connection, fiber)
      metrics?.add(connectionsActive, serving.size)
      fiber.addObserver((exit) => done(connection, scope, exit))
    }

    const done = (connection: Connection, scope: Scope.CloseableScope, exit: Exit.Exit<void, E>) => {
      const end = runEnd(closing(connection, scope, exit, options.onClose))
      ending.add(end)
      end.addObserver(ended.bind(end))
      serving.delete(connection)
      metrics?.add(connectionsActive, serving.size)
      let next = waiting.shift()
      // One closed while it waited (idle) is not served.
      while (next !== undefined && !isOpen(next)) next = waiting.shift()
      if (next !== undefined && !shuttingDown) start(next)
      else if (shuttingDown && serving.size === 0) Deferred.unsafeDone(drained, Exit.void)
    }

    const reject = (connection: Connection) => {
      metrics?.add(connectionsRejected)
      const busy = options.busyMessage
      const peer = formatAddress(connection.remote)
      refuse(
        Effect.logWarning(`server busy (${maxConnections} connections): refused ${peer}`).pipe(
          Effect.zipRight(busy === undefined ? Effect.void : Effect.zipRight(connection.write(busy), connection.end)),
          Effect.timeout(rejectTimeout),
          Effect.ignore,
          Effect.ensuring(connection.close),
          Effect.annotateLogs({ peer })
        )
      )
    }

    const onAccept = (connection: Connection) => {
      accepted++
      metrics?.add(connectionsAccepted)
      // Started within the accept event: the fiber runs up to its first wait now.
      if (serving.size < maxConnections) wake(start, connection)
      else if (options.queueWhenFull && waiting.length < maxConnections) waiting.push(connection)
      else reject(connection)
    }

    // Registered before `acceptWith`, so it runs after it: drain, then interrupt the rest.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        shuttingDown = true
        yield* listener.stopAccepting
        yield* FiberSet.clear(refusing)
        // Queued connections whose turn has not come will not be served.
        for (const connection of waiting.splice(0)) yield* connection.close
        const open = serving.size
        if (open > 0) yield* logRoutine(`shutting down: letting ${open} connection(s) finish, for up to ${Duration.format(grace)}`)
        else Deferred.unsafeDone(drained, Exit.void)
        for (const connection of serving.keys()) yield* connection.stopReading
        // Done when every handler is, and every graceful end (a peer slow to read what it was sent).
        const finished = Effect.zipRight(Deferred.await(drained), Effect.suspend(() => Fiber.awaitAll([...ending])))
        yield* Effect.raceAll([finished, Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const forced = serving.size
        yield* Fiber.interruptAll([...serving.values()])
        yield* Effect.suspend(() => Fiber.interruptAll([...ending]))
        if (open > 0) yield* logRoutine(`shutdown: ${open - forced} connection(s) finished, ${forced} forced closed`)
        yield* logRoutine(`stopped: ${accepted} connection(s) accepted`)
      })
    )
    yield* listener.acceptWith(onAccept)
    return TcpServer.of({ address: listener.address, connections: () => serving.size })
  })

/**
 * Serves until interrupted (see `make`); interrupting it shuts down gracefully.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpListener, TcpServer } from "effect-net"
 *
 * // Says hello to each client, then ends the connection.
 * const program = TcpServer.serve((connection) => connection.write(new TextEncoder().encode("hello\n"))).pipe(
 *   Effect.provide(TcpListener.layer({ port: 9999 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const serve = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Effect.Effect<never, never, TcpListener | Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.zipRight(make(handler, options), Effect.never))

/**
 * Serves for as long as the layer is alive (see `make`); closing it shuts down gracefully.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { TcpConnection, TcpListener, TcpServer } from "effect-net"
 *
 * // A handler reaching its connection through the context, as code deep in a handler may.
 * const greet = Effect.flatMap(TcpConnection.TcpConnection, (connection) => connection.write(new TextEncoder().encode("hi\n")))
 *
 * const ServerLive = TcpServer.layer(() => greet).pipe(Layer.provide(TcpListener.layer({ port: 9999 })))
 * ```
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Layer.Layer<TcpServer, never, TcpListener | Exclude<R, Scope.Scope>> => Layer.scoped(TcpServer, make(handler, options))
