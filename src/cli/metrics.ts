/**
 * `--metrics-port P`: serves the metrics in Prometheus' text format on http://HOST:P/metrics.
 * The HTTP server is loaded only when asked for, so that it costs nothing at start-up otherwise.
 */
import { Options } from "@effect/cli"
import { Console, Effect, Layer, type MetricPair, Option, type Scope } from "effect"
import type { MetricsEndpointError } from "../metrics/prometheus.js"
import { Advised, bindAdvice } from "./advice.js"
import { inPortRange } from "./options.js"

export const metricsPort = Options.integer("metrics-port").pipe(
  Options.withDescription("Serve Prometheus metrics on http://HOST:PORT/metrics (off by default; 0 picks a free port)."),
  inPortRange("metrics-port"),
  Options.optional
)

/**
 * Starts the metrics endpoint for the scope's lifetime, if a port was given, and prints its URL.
 * It serves `snapshot`: by default this process's metrics.
 */
export const serveMetrics = (
  host: string,
  port: Option.Option<number>,
  snapshot?: Effect.Effect<ReadonlyArray<MetricPair.MetricPair.Untyped>>
): Effect.Effect<void, MetricsEndpointError | Advised, Scope.Scope> =>
  Option.match(port, {
    onNone: () => Effect.void,
    onSome: (port) =>
      Effect.promise(() => import("../metrics/prometheus.js")).pipe(
        Effect.flatMap((Prometheus) =>
          Layer.build(Prometheus.layer({ host, port, snapshot, onBound: (url) => Console.log(`metrics on ${url}`) }))
        ),
        Effect.mapError((error) => {
          const advice = bindAdvice(error.reason, "--metrics-port")
          return advice === undefined ? error : new Advised({ error, advice })
        })
      )
  })
