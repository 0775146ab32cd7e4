/** The cluster's error: a program that cannot start in its workers fails the primary with it. */
import { Data } from "effect"

/**
 * A worker failed, or died, before any worker served: the cluster cannot start (`Cluster.run`
 * fails with it in the primary, rather than restarting workers that would fail the same way).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterStartError } from "effect-net"
 *
 * const failed = Effect.fail(new ClusterStartError({ worker: 2, exitCode: 1, detail: "port 9999 is in use" }))
 * const reported = Effect.catchTag(failed, "ClusterStartError", (error) =>
 *   Effect.sync(() => console.log(`worker ${error.worker}: ${error.message}`)) // worker 2: port 9999 is in use
 * )
 * Effect.runSync(reported)
 * ```
 *
 * @since 0.1.0
 */
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
