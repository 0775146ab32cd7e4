/**
 * Serving a TCP listener: one fiber per accepted connection, started within the accept event.
 * A connection limit (reject with a busy message, or queue until a slot frees), and a graceful
 * shutdown: stop accepting at once, let each connection finish what it is doing (reads end as
 * if the peer had finished), force-close the rest after a grace period.
 *
 * What a server holds per open connection counts (idle memory, churn): the fiber's pipeline is
 * built as it runs, with one `matchCauseEffect` for its end, its scheduler shared (see
 * `connectionRuntime`); the open connections are in a plain Map, with a counter for the limit (a
 * semaphore only where connections queue for a slot).
 */
import { Cause, Deferred, Duration, Effect, Exit, Fiber, FiberRef, Layer, Predicate, Runtime } from "effect"
import { formatAddress } from "../address.js"
import * as Metrics from "../metrics/metrics.js"
import { type Connection, immediate } from "./connection.js"
import { TcpListener } from "./listener.js"

/** Serves one connection. It is ended gracefully when the handler succeeds, closed otherwise. */
export type Handler<E, R> = (connection: Connection) => Effect.Effect<void, E, R>

export interface TcpServerOptions {
  /** Most connections served at once; default 10,000 (see `defaults`). */
  readonly maxConnections?: number | undefined
  /**
   * At the limit, hold new connections (accepted, unread) until a slot frees, instead of
   * refusing them. They are bounded by the process's file descriptors.
   */
  readonly queueWhenFull?: boolean | undefined
  /** Written to a connection refused at the limit, before it is closed. */
  readonly busyMessage?: Uint8Array | undefined
  /** How long a shutdown waits for connections to finish before closing them; default 5 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** When this completes, a shutdown in progress stops waiting (a second Ctrl+C). */
  readonly forceShutdown?: Effect.Effect<void> | undefined
}

export const defaults = {
  maxConnections: 10_000,
  shutdownGrace: Duration.seconds(5)
} as const

/** How long a refused connection may take to receive the busy message. */
const rejectTimeout = Duration.seconds(1)

/** What ends a connection that the peer or our policies caused: routine for a server, logged at info. */
const isRoutine = (error: unknown) =>
  Predicate.isTagged(error, "TcpSocketError") || Predicate.isTagged(error, "TcpTimeoutError")

/** A failure is one line (info when routine, warning otherwise); a defect is an error with its cause. */
const logFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return Effect.logError("connection handler crashed", cause)
  const message = failure.value instanceof Error ? failure.value.message : String(failure.value)
  return isRoutine(failure.value) ? Effect.logInfo(message) : Effect.logWarning(message)
}

/**
 * The server's own log lines about a connection name its peer, in the message and, at the end,
 * as an annotation. Annotating the connection's whole fiber, or a line before it waits, would
 * leave about a kilobyte per open connection behind: a handler annotates its own lines. The
 * peer's name is made when a line is (the socket keeps its address), not kept per connection.
 */
const aboutPeer = (log: Effect.Effect<void>, peer: string) => Effect.annotateLogs(log, "peer", peer)

const logClosed = (peer: string) => aboutPeer(Effect.logInfo(`Connection from ${peer} closed.`), peer)

/** The end of a conversation: the failure logged, if any, the socket closed, and one line. */
const closed = (connection: Connection, cause?: Cause.Cause<unknown>) => {
  const peer = formatAddress(connection.remote)
  return Effect.zipRight(
    cause === undefined ? connection.close : Effect.zipRight(aboutPeer(logFailure(cause), peer), connection.close),
    logClosed(peer)
  )
}

/**
 * One connection's fiber, built as it runs: the handler, then a graceful end, then the close.
 * While the handler waits, the fiber holds one frame of its own (an interrupted fiber's socket
 * is closed by the server's observer of it).
 */
const conversation = <E, R>(handler: Handler<E, R>, connection: Connection): Effect.Effect<void, never, R> => {
  const onFailure = (cause: Cause.Cause<unknown>) => closed(connection, cause)
  return Effect.zipRight(
    Effect.logInfo(`Accept new connection from ${formatAddress(connection.remote)}...`),
    Effect.matchCauseEffect(Effect.suspend(() => handler(connection)), {
      onFailure,
      onSuccess: () => Effect.matchCauseEffect(connection.end, { onFailure, onSuccess: () => closed(connection) })
    })
  )
}

/**
 * The runtime of connection fibers: the server's, with the `immediate` scheduler. Set here once,
 * the fibers share it; passed to each `runFork`, it would be a FiberRef set for each fiber alone,
 * with a copy of its own (about a tenth of a kilobyte per open connection).
 */
const connectionRuntime = <R>(runtime: Runtime.Runtime<R>): Runtime.Runtime<R> =>
  Runtime.setFiberRef(runtime, FiberRef.currentScheduler, immediate)

/**
 * Accepts connections until interrupted, running `handler` for each in a fiber of its own.
 * Runs forever; interrupting it shuts down gracefully (see `TcpServerOptions`).
 */
export const serve = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Effect.Effect<never, never, TcpListener | R> =>
  Effect.scoped(Effect.gen(function*() {
    const listener = yield* TcpListener
    const maxConnections = options.maxConnections ?? defaults.maxConnections
    const grace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
    const runFork = Runtime.runFork(connectionRuntime(yield* Effect.runtime<R>()))
    /** The connections being served, and their fibers. */
    const serving = new Map<Connection, Fiber.RuntimeFiber<void>>()
    /** Connections accepted at the limit, with `queueWhenFull`, waiting for a slot (accepted, unread). */
    const waiting: Array<Connection> = []
    let shuttingDown = false
    let accepted = 0
    /** Completed when the last connection is done, during a shutdown. */
    const drained = yield* Deferred.make<void>()

    const start = (connection: Connection) => {
      const fiber = runFork(conversation(handler, connection))
      serving.set(connection, fiber)
      Metrics.connectionsActive.unsafeUpdate(serving.size, Metrics.noTags)
      fiber.addObserver((exit) => done(connection, exit))
    }

    const done = (connection: Connection, exit: Exit.Exit<void>) => {
      if (Exit.isInterrupted(exit)) runFork(Effect.zipRight(connection.close, logClosed(formatAddress(connection.remote))))
      serving.delete(connection)
      Metrics.connectionsActive.unsafeUpdate(serving.size, Metrics.noTags)
      const next = waiting.shift()
      if (next !== undefined && !shuttingDown) start(next)
      else if (shuttingDown && serving.size === 0) Deferred.unsafeDone(drained, Exit.void)
    }

    const reject = (connection: Connection) => {
      Metrics.connectionsRejected.unsafeUpdate(1, Metrics.noTags)
      const busy = options.busyMessage
      const peer = formatAddress(connection.remote)
      runFork(
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
      Metrics.connectionsAccepted.unsafeUpdate(1, Metrics.noTags)
      if (serving.size < maxConnections) start(connection)
      else if (options.queueWhenFull) waiting.push(connection)
      else reject(connection)
    }

    // Registered before `acceptWith`, so it runs after it: drain, then interrupt the rest.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        shuttingDown = true
        yield* listener.stopAccepting
        // Queued connections whose turn has not come will not be served.
        for (const connection of waiting.splice(0)) yield* connection.close
        const open = serving.size
        const stopped = Effect.logInfo(`stopped: ${accepted} connection(s) accepted`)
        if (open === 0) return yield* stopped
        yield* Effect.logInfo(
          `shutting down: letting ${open} connection(s) finish, for up to ${Duration.format(grace)}`
        )
        for (const connection of serving.keys()) yield* connection.stopReading
        yield* Effect.raceAll([Deferred.await(drained), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const forced = serving.size
        yield* Fiber.interruptAll([...serving.values()])
        yield* Effect.logInfo(`shutdown: ${open - forced} connection(s) finished, ${forced} forced closed`)
        yield* Effect.sync(Metrics.flush)
        yield* stopped
      })
    )
    yield* Effect.forkScoped(Metrics.flushEverySecond)
    yield* listener.acceptWith(onAccept)
    return yield* Effect.never
  }))

/** Serves in the background for as long as the layer is alive; closing it shuts down gracefully. */
export const layer = <E, R>(handler: Handler<E, R>, options: TcpServerOptions = {}): Layer.Layer<never, never, TcpListener | R> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(handler, options)))
