/**
 * A server command in this process, or, with `--workers N`, in N worker processes (see
 * `Cluster`): either way one `listening on URL` line, the metrics endpoint on the process the
 * user started, and the stop on signals as the runner does it.
 */
import { Console, Effect, type MetricPair, type Option, type Scope } from "effect"
import * as Cluster from "../cluster/cluster.js"
import type { MetricsEndpointError } from "../metrics/prometheus.js"
import { advise, type Advised } from "./advice.js"
import { serveMetrics } from "./metrics.js"
import { ForceShutdown } from "./signals.js"

/** What a server command's program gets: where to bind, whom to tell once bound, when to force its shutdown. */
export interface Serving {
  /** The port to bind when `requested` was asked (see `Cluster.Worker.port`). */
  readonly port: (requested: number) => number
  /** Once bound: says `listening on URL` (once for all workers) and starts the metrics endpoint. */
  readonly listening: (url: string, port: number) => Effect.Effect<void, MetricsEndpointError | Advised, Scope.Scope>
  /** Completes on a second signal: the shutdown under way must stop waiting. */
  readonly forceShutdown: Effect.Effect<void>
}

/**
 * Runs `program` (bind, `listening`, serve until interrupted) with `cluster.workers` processes;
 * the metrics endpoint, with `--metrics-port`, serves this process's metrics, or the sum over the
 * workers. With workers, the primary's last line is `metrics.summary` of their sum, where one
 * process's program says its own.
 */
export const serve = <E, R>(
  cluster: Pick<Cluster.ClusterOptions, "workers" | "watchdog">,
  metrics: {
    readonly host: string
    readonly port: Option.Option<number>
    readonly summary?: ((metrics: ReadonlyArray<MetricPair.MetricPair.Untyped>) => string) | undefined
  },
  program: (serving: Serving) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const force = yield* ForceShutdown
    if (cluster.workers === 1) {
      return yield* program({
        port: (requested) => requested,
        listening: (url) => Effect.zipRight(Console.log(`listening on ${url}`), serveMetrics(metrics.host, metrics.port)),
        forceShutdown: force
      }).pipe(Effect.scoped)
    }
    const worker = Effect.flatMap(Cluster.ClusterWorker, (worker) =>
      program({
        port: worker.port,
        listening: (url, port) => worker.listening(url, port),
        forceShutdown: Effect.raceFirst(force, worker.forceShutdown)
      }).pipe(Effect.scoped))
    return yield* Cluster.run(worker, {
      ...cluster,
      forceShutdown: force,
      describeFailure: advise,
      primary: (primary) =>
        Effect.gen(function*() {
          yield* Console.log(`listening on ${yield* primary.listening}`)
          // Runs once the workers have exited, their last counts in.
          const { summary } = metrics
          if (summary !== undefined) yield* Effect.addFinalizer(() => Effect.flatMap(primary.metrics, (sum) => Effect.logInfo(summary(sum))))
          yield* serveMetrics(metrics.host, metrics.port, primary.metrics)
        })
    })
  })
