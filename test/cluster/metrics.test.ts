import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries } from "effect"
import { cumulative, type Sample, sum, toPairs, toSamples } from "../../src/cluster/metrics.js"
import { render } from "../../src/metrics/prometheus.js"

/** A snapshot as a worker sends it: through JSON. */
const overIpc = (samples: ReadonlyArray<Sample>): ReadonlyArray<Sample> => JSON.parse(JSON.stringify(samples))

const counter = (name: string, value: number, tags: ReadonlyArray<readonly [string, string]> = []): Sample => ({
  kind: "counter",
  name,
  description: `${name} help`,
  tags,
  value
})

describe("Cluster metrics", () => {
  it("sums counters and gauges by name and tags", () => {
    const gauge = (value: number): Sample => ({ kind: "gauge", name: "active", description: undefined, tags: [], value })
    const worker1 = [counter("accepted", 3), counter("rejected", 1, [["reason", "untrusted"]]), gauge(2)]
    const worker2 = [counter("accepted", 4), counter("rejected", 5, [["reason", "malformed"]]), gauge(1)]
    expect(sum([worker1, worker2])).toEqual([
      counter("accepted", 7),
      counter("rejected", 1, [["reason", "untrusted"]]),
      { kind: "gauge", name: "active", description: undefined, tags: [], value: 3 },
      counter("rejected", 5, [["reason", "malformed"]])
    ])
  })

  it("keeps a gone worker's counts, not its gauges", () => {
    expect(cumulative([counter("accepted", 3), { kind: "gauge", name: "active", description: undefined, tags: [], value: 2 }])).toEqual([
      counter("accepted", 3)
    ])
  })

  it.effect("takes Effect's counters, gauges and histograms across JSON, and renders the sum as Prometheus text", () =>
    Effect.gen(function*() {
      const requests = Metric.counter("cluster_test_requests_total", { description: "Requests" }).pipe(Metric.tagged("kind", "a"))
      const active = Metric.gauge("cluster_test_active")
      const latency = Metric.histogram("cluster_test_latency", MetricBoundaries.fromIterable([1, 10]))
      yield* Metric.increment(requests)
      yield* Metric.set(active, 5)
      yield* Metric.update(latency, 3)
      yield* Metric.update(latency, 30)
      const mine = (yield* Metric.snapshot).filter((pair) => pair.metricKey.name.startsWith("cluster_test_"))
      const samples = overIpc(toSamples(mine))
      expect(render(toPairs(sum([samples, samples])))).toBe(render(mine).replace(
        /^(cluster_test_requests_total\{kind="a"\}) 1$|^(cluster_test_active) 5$|^(cluster_test_latency\S*) (\d+)$/gm,
        (_, counterName, gaugeName, histogramName, value) =>
          counterName !== undefined ? `${counterName} 2` : gaugeName !== undefined ? `${gaugeName} 10` : `${histogramName} ${2 * Number(value)}`
      ))
      expect(render(toPairs(sum([samples, samples])))).toContain("cluster_test_latency_bucket{le=\"+Inf\"} 4")
    }))
})
