/**
 * What `Cluster.run` is given (the number of workers, the back-off, the watchdog, the code that
 * runs beside the workers) and its defaults: read by the primary's side and the worker's alike.
 */
import { Duration, type Effect, type MetricPair } from "effect"

/** What the primary offers to the code that runs beside it (see `ClusterOptions.primary`). */
export interface Primary {
  /** Waits until a worker serves, and says where (the `url` of its `listening`). */
  readonly listening: Effect.Effect<string>
  /**
   * The metrics of every process, summed: this one's, each worker's (asked over IPC, at most
   * `defaults.metricsTimeout`), and the counts of the workers that are gone (as they last reported them).
   */
  readonly metrics: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>
}

export interface ClusterOptions<E2 = never, R2 = never> {
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
