import { Effect, type Metric, MetricLabel } from "effect"
import * as Metrics from "../../src/metrics/metrics.js"

/**
 * Metrics recorded under the label `server`: `provide` gives an Effect a `Metrics` of that name,
 * `count` reads a counter of it (with `labels` beside the server's).
 */
export const recording = (server: string) => ({
  provide: Effect.provideServiceEffect(Metrics.Metrics, Metrics.make({ server })),
  count: (metric: Metric.Metric.Counter<number>, labels: Record<string, string> = {}): number =>
    metric.unsafeValue([
      MetricLabel.make("server", server),
      ...Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value))
    ]).count
})
