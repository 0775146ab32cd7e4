/**
 * A server program in several processes on one host, with `node:cluster`: the primary forks N
 * workers, each running the same program on the same port (TCP: the cluster's shared listening
 * socket; UDP: a socket bound with `exclusive: false`); it replaces a worker that dies (with a
 * back-off, so that a crash loop does not spin), stops them all gracefully when interrupted, and
 * sums their metrics, collected over the cluster's IPC. A worker that falls silent (stopped, or its
 * event loop blocked) is killed and replaced as a dead one is (see `ClusterOptions.watchdog`).
 *
 * `cluster.fork` runs the program's entry point again, with the same arguments: the same code
 * runs in the primary and in each worker, and `run` does the primary's part in the primary and
 * runs the program in a worker. The program tells the primary where it listens
 * (`Worker.listening`), binds the port `Worker.port` says (with port 0, all workers must share
 * the port the first one got), and may use `Worker.forceShutdown` (the primary's second signal).
 */
import { Cause, Context, Data, Deferred, Duration, Effect, Exit, Fiber, FiberId, type MetricPair, Runtime, Schedule, Scope } from "effect"
import cluster, { type Worker as WorkerProcess } from "node:cluster"
import { availableParallelism } from "node:os"
import * as Metrics from "../metrics/metrics.js"
import { cumulative, type Sample, sum, toPairs, toSamples } from "./metrics.js"

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

/** What the primary offers to the code that runs beside it (see `RunOptions.primary`). */
export interface Primary {
  /** Waits until a worker serves, and says where (the `url` of its `listening`). */
  readonly listening: Effect.Effect<string>
  /**
   * The metrics of every process, summed: this one's, each worker's (asked over IPC, at most
   * 1 s), and the counts of the workers that are gone (as they last reported them).
   */
  readonly metrics: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>
}

export interface ClusterOptions {
  /** How many workers; see `availableWorkers` for one per CPU. */
  readonly workers: number
  /** The wait before replacing a worker that died; it doubles with each death in a row. Default 100 ms. */
  readonly restartDelay?: Duration.DurationInput | undefined
  /** The longest wait; a worker that ran this long resets the doubling. Default 10 s. */
  readonly maxRestartDelay?: Duration.DurationInput | undefined
  /** When this completes, during a shutdown, the workers are told to force theirs (a second signal). */
  readonly forceShutdown?: Effect.Effect<void> | undefined
  /** A worker's failure as one line, for the primary's logs and errors; default: the error's message. */
  readonly describeFailure?: ((error: unknown) => string) | undefined
  /**
   * A worker that has sent the primary nothing for this long (it reports every
   * `defaults.metricsInterval`) is stuck, stopped or its event loop blocked: the primary kills it
   * (SIGKILL), with a warning, and replaces it as a dead one. Default 5 s; 0 turns it off. Keep
   * it well above the report interval.
   */
  readonly watchdog?: Duration.DurationInput | undefined
}

export interface RunOptions<E2, R2> extends ClusterOptions {
  /**
   * Runs in the primary beside the workers, in a scope that closes after they have all stopped
   * (announce the address, serve the summed metrics). Its failure stops the cluster.
   */
  readonly primary?: ((primary: Primary) => Effect.Effect<unknown, E2, R2>) | undefined
}

export const defaults = {
  restartDelay: Duration.millis(100),
  maxRestartDelay: Duration.seconds(10),
  /** How long the primary waits for the workers' metrics. */
  metricsTimeout: Duration.seconds(1),
  /** How often a worker reports its metrics unasked (what the primary keeps of a worker that is killed). */
  metricsInterval: Duration.seconds(1),
  watchdog: Duration.seconds(5)
} as const

/** A worker failed, or died, before any worker served: the cluster cannot start. */
export class ClusterStartError extends Data.TaggedError("ClusterStartError")<{
  readonly worker: number
  /** The worker's exit code (1 when a signal killed it): the program's exit code. */
  readonly exitCode: number
  /** Its failure as it described it, or how it died. */
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/** One worker per CPU (`--workers auto`). */
export const availableWorkers = (): number => availableParallelism()

const workerVariable = "EFFECT_NET_CLUSTER_WORKER"
const portVariable = "EFFECT_NET_CLUSTER_PORT"

/** Whether this process is a worker started by `run`'s primary. */
export const isWorker: boolean = cluster.isWorker && process.env[workerVariable] !== undefined

/** Messages between the primary and a worker, told apart from the program's own by their key. */
type ToPrimary =
  | { readonly effectNet: "up" }
  | { readonly effectNet: "listening"; readonly url: string; readonly port: number | undefined }
  | { readonly effectNet: "failed"; readonly detail: string }
  | { readonly effectNet: "metrics"; readonly request: number | undefined; readonly samples: ReadonlyArray<Sample> }
type ToWorker =
  | { readonly effectNet: "stop" }
  | { readonly effectNet: "force" }
  | { readonly effectNet: "metrics"; readonly request: number }

const isMessage = <A extends { readonly effectNet: string }>(message: unknown): message is A =>
  typeof message === "object" && message !== null && "effectNet" in message

/** Sends over IPC if it is still open; a closed channel (the peer is gone) is not an error here. */
const ignore = () => {}
const sendToPrimary = (message: ToPrimary) => {
  if (process.connected) process.send!(message, undefined, undefined, ignore)
}
const sendToWorker = (worker: WorkerProcess, message: ToWorker) => {
  if (worker.isConnected()) worker.send(message, undefined, ignore)
}

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * Runs `program` in `options.workers` processes: in the primary, forks and supervises them
 * until interrupted, then stops them gracefully (each drains as on a signal) and returns once
 * they have all exited; in a worker, runs `program` with `ClusterWorker`, until it ends or the
 * primary stops it. Fails in the primary with `ClusterStartError` when a worker fails before
 * any served (a port in use, say), and with what `options.primary` fails with.
 */
export const run = <A, E, R, E2 = never, R2 = never>(
  program: Effect.Effect<A, E, R>,
  options: RunOptions<E2, R2>
): Effect.Effect<void, E | E2 | ClusterStartError, Exclude<R, ClusterWorker> | Exclude<R2, Scope.Scope>> =>
  isWorker ? runWorker(program, options) : runPrimary(options)

const runWorker = <A, E, R>(program: Effect.Effect<A, E, R>, options: ClusterOptions) => {
  const id = Number(process.env[workerVariable])
  const assigned = process.env[portVariable]
  const clusterPort = assigned === undefined ? undefined : Number(assigned)
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
      else sendToPrimary({ effectNet: "metrics", request: message.request, samples: toSamples(Metrics.snapshot()) })
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
    // Its counts reach the primary at least once a second: a worker killed loses at most that much.
    const report = Effect.sync(() => sendToPrimary({ effectNet: "metrics", request: undefined, samples: toSamples(Metrics.snapshot()) }))
    yield* Effect.forkScoped(Effect.repeat(report, Schedule.spaced(defaults.metricsInterval)))
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
      sendToPrimary({ effectNet: "metrics", request: undefined, samples: toSamples(Metrics.snapshot()) })
      if (process.connected) cluster.worker!.disconnect()
    })),
    Effect.annotateLogs("worker", id)
  )
}

/** How a worker process ended. */
interface ProcessExit {
  readonly code: number | null
  readonly signal: string | null
}

/** A worker's place in the cluster, and the process in it now, if any. */
interface Slot {
  readonly id: number
  process: WorkerProcess | undefined
  /** Completed once the process has exited and its channel is closed (every message read). */
  exited: Deferred.Deferred<ProcessExit> | undefined
  /** The port the process was told to bind, if any (see `Worker.port`). */
  port: number | undefined
  /** It hears our messages. */
  up: boolean
  /** It serves. */
  listening: boolean
  /** How it described its failure, if it failed. */
  failure: string | undefined
  /** When it last sent anything (see `ClusterOptions.watchdog`). */
  heardAt: number
  /** The watchdog has killed it. */
  silenced: boolean
  /** Its last metrics. */
  samples: ReadonlyArray<Sample>
  startedAt: number
  /** How many processes it has had, this one included. */
  processes: number
  /** Deaths in a row, each after a short life: the back-off's exponent. */
  deaths: number
}

const describeExit = ({ code, signal }: ProcessExit) =>
  signal !== null ? `was killed by ${signal}` : code === 0 ? "exited" : `exited with code ${code}`

/**
 * Resumes in the check phase of this turn of the event loop, after its poll phase: by then the
 * messages that waited while the primary was busy have been read, and a silence is the worker's.
 */
const afterPendingMessages = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

const runPrimary = <E2, R2>(options: RunOptions<E2, R2>): Effect.Effect<void, E2 | ClusterStartError, Exclude<R2, Scope.Scope>> =>
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
    /** The counts of the workers that are gone. */
    let retired: ReadonlyArray<Sample> = []
    let requests = 0
    const pending = new Map<number, { readonly waiting: Set<Slot>; readonly done: Deferred.Deferred<void> }>()
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const slots = Array.from({ length: options.workers }, (_, i): Slot => ({
      id: i + 1,
      process: undefined,
      exited: undefined,
      port: undefined,
      up: false,
      listening: false,
      failure: undefined,
      heardAt: 0,
      silenced: false,
      samples: [],
      startedAt: 0,
      processes: 0,
      deaths: 0
    }))

    const onMessage = (slot: Slot, worker: WorkerProcess) => (message: unknown) => {
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
        case "metrics": {
          slot.samples = message.samples
          const request = message.request === undefined ? undefined : pending.get(message.request)
          if (request !== undefined && request.waiting.delete(slot) && request.waiting.size === 0) {
            Deferred.unsafeDone(request.done, Exit.void)
          }
        }
      }
    }

    /**
     * Starts a process in `slot`, on the port the serving ones were told (their shared listening
     * socket), or the cluster's port if none serves (theirs is closed: all are gone).
     */
    const start = (slot: Slot) => {
      const sharing = slots.find((other) => other.listening && other.process?.isConnected() === true)
      slot.port = sharing === undefined ? clusterPort : sharing.port
      const env: Record<string, string> = { [workerVariable]: String(slot.id) }
      if (slot.port !== undefined) env[portVariable] = String(slot.port)
      const worker = cluster.fork(env)
      const exited = Deferred.unsafeMake<ProcessExit>(FiberId.none)
      const now = Date.now()
      Object.assign(slot, {
        process: worker,
        exited,
        up: false,
        listening: false,
        failure: undefined,
        heardAt: now,
        silenced: false,
        samples: [],
        startedAt: now
      })
      slot.processes++
      let exit: ProcessExit | undefined
      let disconnected = false
      const done = () => {
        if (exit === undefined || !disconnected) return
        // Its counts move to the sum of those gone as it goes: no sum misses them.
        retired = sum([retired, cumulative(slot.samples)])
        slot.process = undefined
        Deferred.unsafeDone(exited, Exit.succeed(exit))
      }
      worker.on("message", onMessage(slot, worker))
      // Sending to a worker that just died can fail: its exit is what counts.
      worker.on("error", ignore)
      worker.on("exit", (code: number | null, signal: string | null) => {
        exit = { code, signal }
        done()
      })
      worker.on("disconnect", () => {
        disconnected = true
        done()
      })
      return { pid: worker.process.pid, exited }
    }

    /** Keeps a worker in `slot`: replaces it when it dies, after the back-off. */
    const supervise = (slot: Slot): Effect.Effect<void> =>
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
                detail: slot.failure ?? `worker ${slot.id} ${describeExit(exit)} before any worker was serving`
              })
            )
            return
          }
          const lived = Date.now() - slot.startedAt
          slot.deaths = lived >= maxDelay ? 1 : slot.deaths + 1
          const delay = Duration.millis(Math.min(maxDelay, initialDelay * 2 ** (slot.deaths - 1)))
          const why = slot.failure === undefined ? "" : `: ${slot.failure}`
          yield* Effect.logWarning(
            `worker ${slot.id} (pid ${pid}) ${describeExit(exit)}${why}; starting another in ${Duration.format(delay)}`
          )
          yield* Effect.sleep(delay)
        }
      })

    /**
     * Kills the workers silent for `watchdog` (their supervisors replace them), also while they
     * drain: a stuck one would hold the primary's drain for ever.
     */
    const watch = Effect.gen(function*() {
      const limit = Duration.toMillis(watchdog)
      yield* Effect.sleep(Duration.min(defaults.metricsInterval, Duration.millis(limit / 4)))
      yield* afterPendingMessages
      const now = Date.now()
      for (const slot of slots) {
        const worker = slot.process
        if (worker === undefined || slot.silenced || now - slot.heardAt < limit) continue
        slot.silenced = true
        yield* Effect.logWarning(
          `worker ${slot.id} (pid ${worker.process.pid}) sent nothing for ${Duration.format(watchdog)} (stopped, or its event loop blocked): killing it (SIGKILL)`
        )
        worker.process.kill("SIGKILL")
      }
    }).pipe(Effect.forever)

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

    const metrics = Effect.gen(function*() {
      const asked = slots.filter((slot) => slot.up && slot.process?.isConnected() === true)
      if (asked.length > 0) {
        const request = ++requests
        const done = yield* Deferred.make<void>()
        pending.set(request, { waiting: new Set(asked), done })
        for (const slot of asked) sendToWorker(slot.process!, { effectNet: "metrics", request })
        yield* Deferred.await(done).pipe(
          Effect.timeout(defaults.metricsTimeout),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => pending.delete(request)))
        )
      }
      const current = slots.map((slot) => slot.process === undefined ? [] : slot.samples)
      return toPairs(sum([toSamples(Metrics.snapshot()), retired, ...current]))
    })

    // Closed last: what runs beside the workers (the metrics endpoint) outlives their drain.
    const besides = yield* Scope.make()
    yield* Effect.addFinalizer((exit) => Scope.close(besides, exit))
    // Forked before the drain is registered, so stopped after it: a stuck worker cannot hold the drain.
    if (Duration.toMillis(watchdog) > 0) yield* Effect.forkScoped(watch)
    // The workers and their drain in one piece: a signal in between would leave them undrained.
    yield* Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        Effect.forEach(slots, (slot) => Effect.forkScoped(restore(supervise(slot))), { discard: true }),
        Effect.addFinalizer(() => drain)
      )
    )
    if (options.primary !== undefined) {
      yield* options.primary({ listening: Deferred.await(firstListening), metrics }).pipe(
        Effect.catchAllCause((cause) => Deferred.failCause(failed, cause)),
        Scope.extend(besides),
        Effect.forkIn(besides)
      )
    }
    return yield* Deferred.await(failed)
  }))
