/**
 * The primary's side of the cluster: forks the workers, replaces one that dies (with a back-off,
 * so that a crash loop does not spin), runs the code beside them, and, when interrupted, tells
 * them all to stop and waits until they have exited.
 */
import { Deferred, Duration, Effect, Exit, Runtime, Scope } from "effect"
import type { Worker as WorkerProcess } from "node:cluster"
import * as Collector from "./collector.js"
import { ClusterStartError } from "./errors.js"
import { isMessage, sendToWorker, type ToPrimary } from "./ipc.js"
import { type ClusterOptions, defaults } from "./options.js"
import * as Slot from "./slot.js"
import { watch } from "./watchdog.js"

/** Supervises `options.workers` workers until interrupted, then drains them (see `run`). */
export const runPrimary = <E2, R2>(options: ClusterOptions<E2, R2>): Effect.Effect<void, E2 | ClusterStartError, Exclude<R2, Scope.Scope>> =>
  Effect.scoped(Effect.gen(function*() {
    const initialDelay = Duration.toMillis(Duration.decode(options.restartDelay ?? defaults.restartDelay))
    const maxDelay = Duration.toMillis(Duration.decode(options.maxRestartDelay ?? defaults.maxRestartDelay))
    const watchdog = Duration.decode(options.watchdog ?? defaults.watchdog)
    const failed = yield* Deferred.make<never, E2 | ClusterStartError>()
    const firstListening = yield* Deferred.make<string>()
    /** A worker has served: from now on a death is replaced, not a failure to start. */
    let started = false
    /** The port the cluster serves on: the first one a worker reported. */
    let clusterPort: number | undefined
    let stopping = false
    let forced = false
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const slots = Array.from({ length: options.workers }, (_, i) => Slot.make(i + 1))
    const metrics = Collector.make(slots)

    const onMessage = (slot: Slot.Slot) => (worker: WorkerProcess) => (message: unknown) => {
      if (slot.process !== worker) return
      slot.heardAt = Date.now()
      if (!isMessage<ToPrimary>(message)) return
      switch (message.effectNet) {
        case "up":
          slot.up = true
          if (stopping) sendToWorker(worker, { effectNet: "stop" })
          if (forced) sendToWorker(worker, { effectNet: "force" })
          return
        case "listening":
          if (message.port !== undefined && clusterPort !== undefined && message.port !== clusterPort) {
            runFork(Effect.logWarning(`worker ${slot.id} listens on ${message.url}, not on port ${clusterPort}: replacing it`))
            return sendToWorker(worker, { effectNet: "stop" })
          }
          slot.listening = true
          started = true
          runFork(Effect.logInfo(`worker ${slot.id} ${slot.processes > 1 ? "restarted" : "started"} (pid ${worker.process.pid}): ${message.url}`))
          clusterPort ??= message.port
          Deferred.unsafeDone(firstListening, Exit.succeed(message.url))
          return
        case "failed":
          slot.failure = message.detail
          return
        case "metrics":
          return metrics.received(slot, message.request, message.samples)
      }
    }

    /**
     * Starts a process in `slot`, on the port the serving ones were told (their shared listening
     * socket), or the cluster's port if none serves (theirs is closed: all are gone).
     */
    const start = (slot: Slot.Slot) => {
      const sharing = slots.find((other) => other.listening && other.process?.isConnected() === true)
      return Slot.fork(slot, sharing === undefined ? clusterPort : sharing.port, onMessage(slot), metrics.retire)
    }

    /** Keeps a worker in `slot`: replaces it when it dies, after the back-off. */
    const supervise = (slot: Slot.Slot): Effect.Effect<void> =>
      Effect.gen(function*() {
        while (!stopping) {
          const { exited, pid } = start(slot)
          const exit = yield* Deferred.await(exited)
          if (stopping) return
          if (!started) {
            yield* Deferred.fail(
              failed,
              new ClusterStartError({
                worker: slot.id,
                exitCode: exit.code === null || exit.code === 0 ? 1 : exit.code,
                detail: slot.failure ?? `worker ${slot.id} ${Slot.describeExit(exit)} before any worker was serving`
              })
            )
            return
          }
          const lived = Date.now() - slot.startedAt
          slot.deaths = lived >= maxDelay ? 1 : slot.deaths + 1
          const delay = Duration.millis(Math.min(maxDelay, initialDelay * 2 ** (slot.deaths - 1)))
          const why = slot.failure === undefined ? "" : `: ${slot.failure}`
          yield* Effect.logWarning(
            `worker ${slot.id} (pid ${pid}) ${Slot.describeExit(exit)}${why}; starting another in ${Duration.format(delay)}`
          )
          yield* Effect.sleep(delay)
        }
      })

    /** Tells every worker to stop (each drains as on a signal), and waits until all have exited. */
    const drain = Effect.gen(function*() {
      stopping = true
      const running = slots.filter((slot) => slot.process !== undefined)
      if (running.length === 0) return
      yield* Effect.logInfo(`stopping ${running.length} worker(s)`)
      for (const slot of running) if (slot.up) sendToWorker(slot.process!, { effectNet: "stop" })
      const force = Effect.sync(() => {
        forced = true
        for (const slot of slots) if (slot.up && slot.process !== undefined) sendToWorker(slot.process, { effectNet: "force" })
      })
      const exits = running.map((slot) => slot.exited!)
      yield* Effect.raceAll([
        Effect.forEach(exits, Deferred.await, { discard: true }),
        Effect.zipRight(Effect.zipRight(options.forceShutdown ?? Effect.never, force), Effect.never)
      ])
      yield* Effect.logInfo(`stopped: ${running.length} worker(s) exited`)
    })

    // Closed last: what runs beside the workers (the metrics endpoint) outlives their drain.
    const besides = yield* Scope.make()
    yield* Effect.addFinalizer((exit) => Scope.close(besides, exit))
    // Forked before the drain is registered, so stopped after it: a stuck worker cannot hold the drain.
    if (Duration.toMillis(watchdog) > 0) yield* Effect.forkScoped(watch(slots, watchdog))
    // The workers and their drain in one piece: a signal in between would leave them undrained.
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        Effect.forEach(slots, (slot) => Effect.forkScoped(restore(supervise(slot))), { discard: true }),
        Effect.addFinalizer(() => drain)
      )
    )
    if (options.primary !== undefined) {
      yield* options.primary({ listening: Deferred.await(firstListening), metrics: metrics.total }).pipe(
        Effect.catchAllCause((cause) => Deferred.failCause(failed, cause)),
        Scope.extend(besides),
        Effect.forkIn(besides)
      )
    }
    return yield* Deferred.await(failed)
  }))
