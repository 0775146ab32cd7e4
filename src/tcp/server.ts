/**
 * Serving a TCP listener: one fiber per accepted connection, each in its own scope, all in a
 * FiberSet owned by the server's scope. A connection limit (reject with a busy message, or queue
 * until a slot frees), and a graceful shutdown: stop accepting at once, let each connection
 * finish what it is doing (reads end as if the peer had finished), force-close the rest after a
 * grace period.
 */
import { Cause, Duration, Effect, FiberSet, Layer, Option, Predicate, Scheduler, Stream } from "effect"
import { formatAddress } from "../address.js"
import * as Metrics from "../metrics/metrics.js"
import type { Connection } from "./connection.js"
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

/**
 * Connection fibers run on this scheduler: a fiber woken by a socket event runs within that
 * event's callback, instead of in a microtask queued for it. About a fifth less CPU per message
 * in a ping-pong (bench/README.md). A fiber that yields is queued behind its own run, as usual.
 */
const immediate = Scheduler.make((task) => task())

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

const serveConnection = <E, R>(handler: Handler<E, R>, connection: Connection): Effect.Effect<void, never, R> => {
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
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<R>()
    const slots = yield* Effect.makeSemaphore(maxConnections)
    const serving = new Set<Connection>()
    let shuttingDown = false
    let accepted = 0

    const serveInSlot = (connection: Connection) =>
      Effect.suspend(() => {
        // A queued connection whose turn comes during shutdown is not served any more.
        if (shuttingDown) return connection.close
        serving.add(connection)
        Metrics.connectionsActive.unsafeUpdate(serving.size, Metrics.noTags)
        return Effect.ensuring(
          serveConnection(handler, connection),
          Effect.sync(() => {
            serving.delete(connection)
            Metrics.connectionsActive.unsafeUpdate(serving.size, Metrics.noTags)
          })
        )
      })

    const reject = (connection: Connection) => {
      const peer = formatAddress(connection.remote)
      Metrics.connectionsRejected.unsafeUpdate(1, Metrics.noTags)
      const busy = options.busyMessage
      return Effect.logWarning(`server busy (${maxConnections} connections): refused ${peer}`).pipe(
        Effect.zipRight(busy === undefined ? Effect.void : Effect.zipRight(connection.write(busy), connection.end)),
        Effect.timeout(rejectTimeout),
        Effect.ignore,
        Effect.ensuring(connection.close),
        Effect.annotateLogs({ peer })
      )
    }

    const onAccept = (connection: Connection) =>
      Effect.sync(() => {
        accepted++
        Metrics.connectionsAccepted.unsafeUpdate(1, Metrics.noTags)
        const served = options.queueWhenFull
          ? slots.withPermits(1)(serveInSlot(connection))
          : Effect.flatMap(
            slots.withPermitsIfAvailable(1)(serveInSlot(connection)),
            Option.match({ onNone: () => reject(connection), onSome: () => Effect.void })
          )
        run(Effect.withScheduler(served, immediate))
      })

    // Registered after the FiberSet, so it runs first: drain, then the FiberSet interrupts the rest.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        shuttingDown = true
        yield* listener.stopAccepting
        const open = yield* FiberSet.size(fibers)
        const stopped = Effect.logInfo(`stopped: ${accepted} connection(s) accepted`)
        if (open === 0) return yield* stopped
        yield* Effect.logInfo(
          `shutting down: letting ${open} connection(s) finish, for up to ${Duration.format(grace)}`
        )
        for (const connection of serving) yield* connection.stopReading
        yield* Effect.raceAll([FiberSet.awaitEmpty(fibers), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const forced = yield* FiberSet.size(fibers)
        yield* Effect.logInfo(`shutdown: ${open - forced} connection(s) finished, ${forced} forced closed`)
        yield* stopped
      })
    )

    yield* Stream.runForEach(listener.accept, onAccept)
    return yield* Effect.never
  }))

/** Serves in the background for as long as the layer is alive; closing it shuts down gracefully. */
export const layer = <E, R>(handler: Handler<E, R>, options: TcpServerOptions = {}): Layer.Layer<never, never, TcpListener | R> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(handler, options)))
