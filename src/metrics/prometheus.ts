/**
 * The metrics in Prometheus' text exposition format, and an HTTP endpoint serving them with
 * @effect/platform's HTTP server (`GET /metrics`).
 *
 * @since 0.1.0
 * @module effect-net/prometheus
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Data, Effect, Layer, type MetricPair, MetricState, Option } from "effect"
import { createServer } from "node:http"
import { type BindReason, formatAddress, type TcpAddress, tcpAddress } from "../address.js"
import { bindReason, describeError } from "../internal/os-error.js"
import * as Metrics from "./metrics.js"

const labels = (pair: MetricPair.MetricPair.Untyped, extra: ReadonlyArray<readonly [string, string]> = []) => {
  const all = [...pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const), ...extra]
  if (all.length === 0) return ""
  const escape = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
  return `{${all.map(([key, value]) => `${key}="${escape(value)}"`).join(",")}}`
}

/**
 * Renders counters, gauges and histograms (the kinds the library records) in Prometheus' text
 * exposition format.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { render } from "effect-net/prometheus"
 *
 * const hits = Metric.counter("hits_total", { description: "Hits" })
 * Effect.runSync(Metric.increment(hits))
 * console.log(render(Effect.runSync(Metric.snapshot)).includes("hits_total 1")) // true
 * ```
 *
 * @since 0.1.0
 */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const lines: Array<string> = []
  const described = new Set<string>()
  const head = (name: string, type: string, description: Option.Option<string>) => {
    if (described.has(name)) return
    described.add(name)
    if (Option.isSome(description)) lines.push(`# HELP ${name} ${description.value}`)
    lines.push(`# TYPE ${name} ${type}`)
  }
  for (const pair of [...pairs].sort((a, b) => a.metricKey.name.localeCompare(b.metricKey.name))) {
    const { name, description } = pair.metricKey
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      head(name, "counter", description)
      lines.push(`${name}${labels(pair)} ${state.count}`)
    } else if (MetricState.isGaugeState(state)) {
      head(name, "gauge", description)
      lines.push(`${name}${labels(pair)} ${state.value}`)
    } else if (MetricState.isHistogramState(state)) {
      head(name, "histogram", description)
      for (const [bound, count] of state.buckets) {
        lines.push(`${name}_bucket${labels(pair, [["le", Number.isFinite(bound) ? String(bound) : "+Inf"]])} ${count}`)
      }
      lines.push(`${name}_sum${labels(pair)} ${state.sum}`, `${name}_count${labels(pair)} ${state.count}`)
    }
  }
  return lines.join("\n") + "\n"
}

/** This process's metrics, up to date (`Metrics.snapshot`). */
const ownSnapshot = Effect.sync(Metrics.snapshot)

const router = (snapshot: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/metrics",
      Effect.map(snapshot, (pairs) => HttpServerResponse.text(render(pairs), { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
    )
  )

/**
 * The metrics endpoint could not listen on its address (a port in use, say); the OS error is the
 * `cause`.
 *
 * @example
 * ```ts
 * import { MetricsEndpointError } from "effect-net/prometheus"
 *
 * const error = new MetricsEndpointError({ reason: "AddressInUse", address: { _tag: "TcpAddress", hostname: "127.0.0.1", port: 9464 }, cause: undefined })
 * console.log(error.reason) // AddressInUse
 * ```
 *
 * @since 0.1.0
 */
export class MetricsEndpointError extends Data.TaggedError("MetricsEndpointError")<{
  readonly reason: BindReason
  readonly address: TcpAddress
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot listen on ${formatAddress(this.address)}: ${describeError(this.cause)}`
  }
}

/**
 * Serves `GET /metrics` on host:port for as long as the layer lives; `onBound` is told the real
 * address (port 0 picks a free one). Fails with `MetricsEndpointError` when it cannot bind. `snapshot`
 * is what it serves: by default this process's metrics (a cluster's primary serves the sum over
 * its workers, see `Cluster`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Metrics, TcpGreetingServer, TcpListener } from "effect-net"
 * import * as Prometheus from "effect-net/prometheus"
 *
 * // The greeting server, its metrics labelled server="greeting", scraped on :9464/metrics.
 * const Live = TcpGreetingServer.layer().pipe(
 *   Layer.provide(TcpListener.layer({ port: 9999 })),
 *   Layer.provide(Metrics.layer({ server: "greeting" })),
 *   Layer.merge(Prometheus.layer({ host: "127.0.0.1", port: 9464, onBound: (url) => Effect.logInfo(`metrics on ${url}`) }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: {
  readonly host: string
  readonly port: number
  readonly onBound?: (url: string) => Effect.Effect<void>
  readonly snapshot?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>> | undefined
}) =>
  HttpServer.serve(router(options.snapshot ?? ownSnapshot)).pipe(
    Layer.merge(Layer.effectDiscard(HttpServer.addressFormattedWith((address) =>
      options.onBound?.(`${address}/metrics`) ?? Effect.void
    ))),
    Layer.provide(NodeHttpServer.layer(createServer, { host: options.host, port: options.port })),
    Layer.catchAll((error) =>
      Layer.fail(new MetricsEndpointError({ reason: bindReason(error.cause), address: tcpAddress(options.host, options.port), cause: error.cause }))
    )
  )
