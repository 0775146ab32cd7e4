/**
 * The worker's side of the cluster: runs the program with `ClusterWorker`, tells the primary it is
 * up, where it serves, how it failed, and its metrics (asked, and unasked as a heartbeat), and
 * stops the program, letting it drain, when the primary says so.
 */
import { Cause, Context, Deferred, Effect, Exit, Fiber, FiberId, Schedule } from "effect"
import cluster from "node:cluster"
import * as Metrics from "../metrics/metrics.js"
import { assignment, isMessage, sendToPrimary, type ToWorker } from "./ipc.js"
import { toSamples } from "./metrics.js"
import { type ClusterOptions, defaults } from "./options.js"

/** What a worker's program gets from the cluster (see `ClusterWorker`). */
export interface Worker {
  /** This worker's number, 1 to N; a replacement takes the number of the worker it replaces. */
  readonly id: number
  /**
   * The port to bind when `requested` was asked: the same, except for port 0 once the cluster
   * serves on a port and no other worker holds it open (all had died): then that port, so that
   * the cluster stays on the port it announced.
   */
  readonly port: (requested: number) => number
  /** Tells the primary this worker serves on `url` (`tcp://127.0.0.1:9999`, say), and `port`. */
  readonly listening: (url: string, port?: number) => Effect.Effect<void>
  /** Completes when the primary forces the shutdown under way (a second signal). */
  readonly forceShutdown: Effect.Effect<void>
}

/** The cluster, in a worker's program run by `run`. */
export class ClusterWorker extends Context.Tag("effect-net/ClusterWorker")<ClusterWorker, Worker>() {}

/** Whether this process is a worker started by `run`'s primary. */
export const isWorker: boolean = cluster.isWorker && assignment() !== undefined

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

const reportMetrics = (request: number | undefined) =>
  sendToPrimary({ effectNet: "metrics", request, samples: toSamples(Metrics.snapshot()) })

/** Runs `program` in this worker until it ends or the primary stops it (see `run`). */
export const runWorker = <A, E, R>(program: Effect.Effect<A, E, R>, options: ClusterOptions<unknown, unknown>) => {
  const { id, port: clusterPort } = assignment()!
  const describe = options.describeFailure ?? messageOf
  return Effect.gen(function*() {
    const force = yield* Deferred.make<void>()
    /** The program's fiber, once started; the primary's stop, or this fiber's interruption, interrupts it. */
    let serving: Fiber.RuntimeFiber<A, E> | undefined
    let stopped = false
    // Once only: a second interruption would cut a server's drain short (its waits are interruptible).
    let interrupted = false
    const interrupt = () => {
      if (interrupted || serving === undefined) return
      interrupted = true
      serving.unsafeInterruptAsFork(FiberId.none)
    }
    const onMessage = (message: unknown) => {
      if (!isMessage<ToWorker>(message)) return
      if (message.effectNet === "stop") {
        stopped = true
        interrupt()
      } else if (message.effectNet === "force") Deferred.unsafeDone(force, Exit.void)
      else reportMetrics(message.request)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.on("message", onMessage)
        // From now on the primary's messages are heard (one sent before would be lost).
        sendToPrimary({ effectNet: "up" })
      }),
      () => Effect.sync(() => process.off("message", onMessage))
    )
    const worker: Worker = {
      id,
      port: (requested) => requested === 0 && clusterPort !== undefined ? clusterPort : requested,
      listening: (url, port) => Effect.sync(() => sendToPrimary({ effectNet: "listening", url, port })),
      forceShutdown: Deferred.await(force)
    }
    // Reported unasked: a worker killed loses at most one interval's counts, and its reports are
    // what the primary's watchdog hears.
    yield* Effect.forkScoped(Effect.repeat(Effect.sync(() => reportMetrics(undefined)), Schedule.spaced(defaults.metricsInterval)))
    // Started and awaited in one piece: a signal in between would end this worker without the
    // program's drain.
    const exit = yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // A daemon: interrupted by `interrupt` only, not also as this fiber's child.
        serving = yield* Effect.forkDaemon(restore(Effect.provideService(program, ClusterWorker, worker)))
        // A stop that came before the program started (the primary stopping as this worker came up).
        if (stopped) interrupt()
        // Interrupted (a signal to this process), the program drains before this ends.
        return yield* restore(Fiber.await(serving)).pipe(
          Effect.onInterrupt(() => Effect.zipRight(Effect.sync(interrupt), Fiber.await(serving!)))
        )
      })
    )
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      const failure = Cause.failureOption(exit.cause)
      const detail = failure._tag === "Some" ? describe(failure.value) : `crashed: ${messageOf(Cause.squash(exit.cause))}`
      sendToPrimary({ effectNet: "failed", detail })
    }
    // Stopped by the primary: done.
    if (stopped && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return
    yield* exit
  }).pipe(
    Effect.scoped,
    // The last counts, then the channel closed: the process can exit once its work is done.
    Effect.ensuring(Effect.sync(() => {
      reportMetrics(undefined)
      if (process.connected) cluster.worker!.disconnect()
    })),
    Effect.annotateLogs("worker", id)
  )
}
