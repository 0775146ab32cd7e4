/**
 * Serving a TCP listener: one fiber per accepted connection, started within the accept event,
 * each handler in a Scope of its own that closes when its connection ends. A connection limit
 * (reject with a busy message, or queue until a slot frees), and a graceful shutdown: stop
 * accepting at once, let each connection finish what it is doing (reads end as if the peer had
 * finished), interrupt the rest after a grace period.
 *
 * What a server holds per open connection counts (idle memory, churn): the fiber's pipeline is
 * built as it runs, the open connections are in a plain Map, with a counter for the limit.
 */
import {
  Cause,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  FiberRefs,
  FiberSet,
  Layer,
  Option,
  Predicate,
  Runtime,
  Scope
} from "effect"
import { formatAddress } from "../address.js"
import { ConnectionScheduler, wake } from "../internal/scheduler.js"
import { logRoutine } from "../internal/log.js"
import { isOpen, SocketConnection } from "../internal/socket-connection.js"
import * as Metrics from "../metrics/metrics.js"
import type { Connection } from "./connection.js"
import { TcpListener } from "./listener.js"

/**
 * Serves one connection, in a Scope of its own (closed when the connection ends). The connection
 * is ended gracefully when the handler succeeds, closed otherwise.
 */
export type Handler<E, R> = (connection: Connection) => Effect.Effect<void, E, R>

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
}

export const defaults = {
  maxConnections: 10_000,
  shutdownGrace: Duration.seconds(5)
} as const

/** How long a refused connection may take to receive the busy message. */
const rejectTimeout = Duration.seconds(1)

/** What ends a connection that the peer or our policies caused: routine for a server. */
const isRoutine = (error: unknown) =>
  Predicate.isTagged(error, "TcpSocketError") || Predicate.isTagged(error, "TcpTimeoutError")

/** A failure is one line (routine, or a warning); a defect is an error with its cause. */
const logFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return Effect.logError("connection handler crashed", cause)
  const message = failure.value instanceof Error ? failure.value.message : String(failure.value)
  return isRoutine(failure.value) ? logRoutine(message) : Effect.logWarning(message)
}

/**
 * The server's own lines about a connection name its peer, in the message and as an annotation.
 * Annotating the connection's whole fiber would cost memory per open connection: a handler
 * annotates its own lines. The peer's name is made when a line is, not kept per connection.
 */
const aboutPeer = (log: Effect.Effect<void>, peer: string) => Effect.annotateLogs(log, "peer", peer)

const logClosed = (peer: string) => aboutPeer(Effect.logDebug(`connection from ${peer} closed`), peer)

/** The end of a conversation: the failure logged, if any, the socket closed, the handler's scope closed, and a line. */
const closed = (connection: Connection, scope: Scope.CloseableScope, exit: Exit.Exit<unknown, unknown>) => {
  const peer = formatAddress(connection.remote)
  const close = Effect.zipRight(connection.close, Scope.close(scope, exit))
  return Effect.zipRight(
    Exit.isSuccess(exit) ? close : Effect.zipRight(aboutPeer(logFailure(exit.cause), peer), close),
    logClosed(peer)
  )
}

/**
 * One connection's fiber, built as it runs: the handler's scope, in the fiber's context for the
 * rest of its life (no frame of its own while the handler waits); the handler; a graceful end;
 * the close. An interrupted fiber's socket and scope are closed by the server's observer of it.
 */
const conversation = <E, R>(
  handler: Handler<E, R>,
  connection: Connection
): Effect.Effect<void, never, Exclude<R, Scope.Scope>> =>
  Effect.flatMap(Scope.make(), (scope) =>
    Effect.withFiberRuntime<void, never, Exclude<R, Scope.Scope>>((fiber) => {
      // Its reads need no canceler: when this fiber ends, the connection is closed.
      if (connection instanceof SocketConnection) connection.owner = fiber
      const onFailure = (cause: Cause.Cause<unknown>) => closed(connection, scope, Exit.failCause(cause))
      return Effect.zipRight(
        FiberRef.update(FiberRef.currentContext, Context.add(Scope.Scope, scope)),
        Effect.zipRight(
          Effect.logDebug(`connection from ${formatAddress(connection.remote)} accepted`),
          // The Scope it may require is the one just put in the fiber's context.
          Effect.matchCauseEffect(Effect.suspend(() => handler(connection) as Effect.Effect<void, E, Exclude<R, Scope.Scope>>), {
            onFailure,
            onSuccess: () =>
              Effect.matchCauseEffect(connection.end, { onFailure, onSuccess: () => closed(connection, scope, Exit.void) })
          })
        )
      )
    }))

/** The handler's scope of a connection fiber, from its context. */
const scopeOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Option.Option<Scope.Scope> =>
  Context.getOption(fiber.getFiberRef(FiberRef.currentContext), Scope.Scope)

/**
 * Accepts connections until interrupted, running `handler` for each in a fiber of its own.
 * Runs forever; interrupting it shuts down gracefully (see `TcpServerOptions`).
 *
 * Handler code, and the fibers it forks, run on the scheduler of the fiber that runs `serve`
 * (Effect's default): only the wake-up of a fiber by its socket's event runs within that event.
 */
export const serve = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Effect.Effect<never, never, TcpListener | Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.gen(function*() {
    const listener = yield* TcpListener
    const maxConnections = options.maxConnections ?? defaults.maxConnections
    const grace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
    const runtime = yield* Effect.runtime<Exclude<R, Scope.Scope>>()
    const scheduler = new ConnectionScheduler(FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentScheduler))
    // Set here once, the fibers share it; passed to each `runFork`, it would be a copy per fiber.
    const runFork = Runtime.runFork(Runtime.setFiberRef(runtime, FiberRef.currentScheduler, scheduler))
    /** The server's own fibers: refusals at the limit, ended when the shutdown begins, and closes after an interruption. */
    const refusing = yield* FiberSet.make<void>()
    const refuse = yield* FiberSet.runtime(refusing)<never>()
    const closing = yield* FiberSet.make<void>()
    const runClose = yield* FiberSet.runtime(closing)<never>()
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
      fiber.addObserver((exit) => done(connection, fiber, exit))
    }

    const done = (connection: Connection, fiber: Fiber.RuntimeFiber<void>, exit: Exit.Exit<void>) => {
      if (Exit.isInterrupted(exit)) {
        const scope = scopeOf(fiber)
        runClose(
          Effect.zipRight(
            Effect.zipRight(connection.close, Option.isSome(scope) ? Scope.close(scope.value as Scope.CloseableScope, exit) : Effect.void),
            logClosed(formatAddress(connection.remote))
          )
        )
      }
      serving.delete(connection)
      Metrics.connectionsActive.unsafeUpdate(serving.size, Metrics.noTags)
      let next = waiting.shift()
      // One closed while it waited (idle) is not served.
      while (next !== undefined && !isOpen(next)) next = waiting.shift()
      if (next !== undefined && !shuttingDown) start(next)
      else if (shuttingDown && serving.size === 0) Deferred.unsafeDone(drained, Exit.void)
    }

    const reject = (connection: Connection) => {
      Metrics.connectionsRejected.unsafeUpdate(1, Metrics.noTags)
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
      Metrics.connectionsAccepted.unsafeUpdate(1, Metrics.noTags)
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
        const stopped = logRoutine(`stopped: ${accepted} connection(s) accepted`)
        if (open === 0) return yield* stopped
        yield* logRoutine(`shutting down: letting ${open} connection(s) finish, for up to ${Duration.format(grace)}`)
        for (const connection of serving.keys()) yield* connection.stopReading
        yield* Effect.raceAll([Deferred.await(drained), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const forced = serving.size
        yield* Fiber.interruptAll([...serving.values()])
        // The interrupted connections' closes (see `done`).
        yield* FiberSet.awaitEmpty(closing)
        yield* logRoutine(`shutdown: ${open - forced} connection(s) finished, ${forced} forced closed`)
        yield* Effect.sync(Metrics.flush)
        yield* stopped
      })
    )
    yield* Effect.forkScoped(Metrics.flushEverySecond)
    yield* listener.acceptWith(onAccept)
    return yield* Effect.never
  }))

/** Serves in the background for as long as the layer is alive; closing it shuts down gracefully. */
export const layer = <E, R>(
  handler: Handler<E, R>,
  options: TcpServerOptions = {}
): Layer.Layer<never, never, TcpListener | Exclude<R, Scope.Scope>> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(handler, options)))
