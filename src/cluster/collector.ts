/**
 * The workers' metrics in the primary: each worker's last report (asked or not), the counts of
 * the workers that are gone, and the sum over all processes, asking the live workers first.
 */
import { Deferred, Effect, Exit, type MetricPair } from "effect"
import * as Metrics from "../metrics/metrics.js"
import { sendToWorker } from "./ipc.js"
import { cumulative, type Sample, sum, toPairs, toSamples } from "./metrics.js"
import { defaults } from "./options.js"
import type { Slot } from "./slot.js"

export interface Collector {
  /** A worker's report: `request` is the number of the sum that asked for it, if any. */
  readonly received: (slot: Slot, request: number | undefined, samples: ReadonlyArray<Sample>) => void
  /** The process in `slot` is gone: its counts move to the sum of those gone, so no sum misses them. */
  readonly retire: (slot: Slot) => void
  /**
   * This process's metrics, each worker's (asked, waiting at most `defaults.metricsTimeout`) and
   * the counts of those gone, summed (see `Primary.metrics`).
   */
  readonly total: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>
}

/** Collects the metrics of the workers in `slots`. */
export const make = (slots: ReadonlyArray<Slot>): Collector => {
  let retired: ReadonlyArray<Sample> = []
  let requests = 0
  const pending = new Map<number, { readonly waiting: Set<Slot>; readonly done: Deferred.Deferred<void> }>()
  return {
    received: (slot, request, samples) => {
      slot.samples = samples
      const asked = request === undefined ? undefined : pending.get(request)
      if (asked !== undefined && asked.waiting.delete(slot) && asked.waiting.size === 0) {
        Deferred.unsafeDone(asked.done, Exit.void)
      }
    },
    retire: (slot) => {
      retired = sum([retired, cumulative(slot.samples)])
    },
    total: Effect.gen(function*() {
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
  }
}
