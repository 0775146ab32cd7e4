/**
 * Metrics across processes: a snapshot as plain data (what a worker sends over the cluster's IPC,
 * as JSON), sums of snapshots, and back to Effect's metric pairs for the Prometheus rendering.
 * Counters, gauges and histograms are summed by name and tags; frequencies and summaries are
 * not summable and are left out.
 */
import { MetricBoundaries, MetricKey, MetricLabel, MetricPair, MetricState } from "effect"

/** One metric's value, with its name and tags. */
export type Sample =
  | {
    readonly kind: "counter" | "gauge"
    readonly name: string
    readonly description: string | undefined
    readonly tags: ReadonlyArray<readonly [string, string]>
    readonly value: number
  }
  | {
    readonly kind: "histogram"
    readonly name: string
    readonly description: string | undefined
    readonly tags: ReadonlyArray<readonly [string, string]>
    /** Upper bounds and cumulative counts; the last bound is `null` for +Inf (JSON has no Infinity). */
    readonly buckets: ReadonlyArray<readonly [number | null, number]>
    readonly count: number
    readonly sum: number
    readonly min: number
    readonly max: number
  }

/** Metric pairs as samples. */
export const toSamples = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): Array<Sample> => {
  const samples: Array<Sample> = []
  for (const { metricKey, metricState: state } of pairs) {
    const common = {
      name: metricKey.name,
      description: metricKey.description._tag === "Some" ? metricKey.description.value : undefined,
      tags: metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    }
    if (MetricState.isCounterState(state)) samples.push({ kind: "counter", ...common, value: Number(state.count) })
    else if (MetricState.isGaugeState(state)) samples.push({ kind: "gauge", ...common, value: Number(state.value) })
    else if (MetricState.isHistogramState(state)) {
      samples.push({
        kind: "histogram",
        ...common,
        buckets: state.buckets.map(([bound, count]) => [Number.isFinite(bound) ? bound : null, count] as const),
        count: state.count,
        sum: state.sum,
        min: state.min,
        max: state.max
      })
    }
  }
  return samples
}

const identity = (sample: Sample) => JSON.stringify([sample.name, sample.tags])

/** Adds `b` to `a` (the same metric). */
const add = (a: Sample, b: Sample): Sample => {
  if (a.kind === "histogram" && b.kind === "histogram") {
    return {
      ...a,
      buckets: a.buckets.map(([bound, count], i) => [bound, count + (b.buckets[i]?.[1] ?? 0)] as const),
      count: a.count + b.count,
      sum: a.sum + b.sum,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max)
    }
  }
  if (a.kind !== "histogram" && b.kind === a.kind) return { ...a, value: a.value + b.value }
  return a
}

/** The sum of several snapshots: each metric (name and tags) once, its values added up. */
export const sum = (snapshots: Iterable<ReadonlyArray<Sample>>): Array<Sample> => {
  const totals = new Map<string, Sample>()
  for (const snapshot of snapshots) {
    for (const sample of snapshot) {
      const key = identity(sample)
      const total = totals.get(key)
      totals.set(key, total === undefined ? sample : add(total, sample))
    }
  }
  return [...totals.values()]
}

/** What stays of a process's snapshot once it is gone: its counts (counters, histograms), not its gauges. */
export const cumulative = (snapshot: ReadonlyArray<Sample>): Array<Sample> => snapshot.filter((sample) => sample.kind !== "gauge")

/** Samples as metric pairs (for `Prometheus.render`). */
export const toPairs = (samples: ReadonlyArray<Sample>): Array<MetricPair.MetricPair.Untyped> =>
  samples.map((sample) => {
    const labels = sample.tags.map(([key, value]) => MetricLabel.make(key, value))
    const description = sample.description
    switch (sample.kind) {
      case "counter":
        return pair(MetricKey.counter(sample.name, { description }), labels, MetricState.counter(sample.value))
      case "gauge":
        return pair(MetricKey.gauge(sample.name, { description }), labels, MetricState.gauge(sample.value))
      case "histogram": {
        const buckets = sample.buckets.map(([bound, count]) => [bound ?? Infinity, count] as const)
        const boundaries = MetricBoundaries.fromIterable(buckets.map(([bound]) => bound).filter(Number.isFinite))
        return pair(MetricKey.histogram(sample.name, boundaries, description), labels, MetricState.histogram({ ...sample, buckets }))
      }
    }
  })

const pair = (key: MetricKey.MetricKey.Untyped, labels: ReadonlyArray<MetricLabel.MetricLabel>, state: MetricState.MetricState.Untyped) =>
  MetricPair.unsafeMake(MetricKey.taggedWithLabels(key, labels), state)
