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
import type { Effect, Scope } from "effect"
import { availableParallelism } from "node:os"
import type { ClusterStartError } from "./errors.js"
import type { ClusterOptions } from "./options.js"
import { runPrimary } from "./supervisor.js"
import { type ClusterWorker, isWorker, runWorker } from "./worker.js"

export { ClusterStartError } from "./errors.js"
export { type ClusterOptions, defaults, type Primary } from "./options.js"
export { ClusterWorker, isWorker, type Worker } from "./worker.js"

/** One worker per CPU (`--workers auto`). */
export const availableWorkers = (): number => availableParallelism()

/**
 * Runs `program` in `options.workers` processes: in the primary, forks and supervises them
 * until interrupted, then stops them gracefully (each drains as on a signal) and returns once
 * they have all exited; in a worker, runs `program` with `ClusterWorker`, until it ends or the
 * primary stops it. Fails in the primary with `ClusterStartError` when a worker fails before
 * any served (a port in use, say), and with what `options.primary` fails with.
 */
export const run = <A, E, R, E2 = never, R2 = never>(
  program: Effect.Effect<A, E, R>,
  options: ClusterOptions<E2, R2>
): Effect.Effect<void, E | E2 | ClusterStartError, Exclude<R, ClusterWorker> | Exclude<R2, Scope.Scope>> =>
  isWorker ? runWorker(program, options) : runPrimary(options)
