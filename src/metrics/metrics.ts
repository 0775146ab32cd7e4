/**
 * Metrics, opt-in: a program that provides `Metrics.layer({ server: "name" })` gets the
 * transport's and the services' counts as Effect `Metric`s in the global registry, each labelled
 * `server="name"`; without it nothing is recorded. `effect-net/prometheus` serves them.
 *
 * Rare events update a metric at once; what happens per read or per message is added to a plain
 * number first, and added to its metric once a second and at every `snapshot`.
 *
 * @since 0.1.0
 * @module
 */
import { Context, Duration, Effect, Layer, Metric, type MetricPair, MetricState, Schedule, type Scope } from "effect"
import type { MetricLabel } from "effect"
import * as Internal from "../internal/metrics.js"
import { Recorder, recorders } from "../internal/metrics.js"

/**
 * What a program names its metrics by.
 *
 * @example
 * ```ts
 * import type { Metrics } from "effect-net"
 *
 * const options: Metrics.MetricsOptions = { server: "chat" }
 * ```
 *
 * @since 0.1.0
 */
export interface MetricsOptions {
  /** The value of the `server` label every metric carries. */
  readonly server?: string | undefined
}

/**
 * The options' defaults.
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-net"
 *
 * console.log(Metrics.defaults.server) // effect-net
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  server: "effect-net"
} as const

/**
 * The metrics of the servers and clients made where it is provided.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const label = Effect.map(Metrics.Metrics, (metrics) => metrics.server)
 * ```
 *
 * @since 0.1.0
 */
export interface Metrics {
  /** The `server` label's value. */
  readonly server: string
  /** The labels every metric recorded here carries. */
  readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
}

/**
 * The tag of `Metrics`: the transport looks it up when a listener, server, client or UDP socket is
 * made, and records nothing where it is absent.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const recording = Effect.map(Effect.serviceOption(Metrics.Metrics), Option.isSome)
 * ```
 *
 * @since 0.1.0
 */
export const Metrics: Context.Tag<Metrics, Metrics> = Internal.MetricsTag

/**
 * TCP connections a server took to serve.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.connectionsAccepted.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const connectionsAccepted = Internal.connectionsAccepted
/**
 * TCP connections being served now.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.connectionsActive.unsafeValue(chat).value) // 0
 * ```
 *
 * @since 0.1.0
 */
export const connectionsActive = Internal.connectionsActive
/**
 * TCP connections refused with the busy message at the connection limit.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.connectionsRejected.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const connectionsRejected = Internal.connectionsRejected
/**
 * TCP connections closed at once because too many were accepted and not yet served.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.pendingRefused.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const pendingRefused = Internal.pendingRefused
/**
 * TCP connections closed by the idle or the write timeout.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.connectionsTimedOut.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const connectionsTimedOut = Internal.connectionsTimedOut
/**
 * Failed accepts (EMFILE when the process is out of file descriptors, say).
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.acceptErrors.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const acceptErrors = Internal.acceptErrors
/**
 * TLS handshakes that failed or did not finish in time.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.tlsHandshakeFailures.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const tlsHandshakeFailures = Internal.tlsHandshakeFailures
/**
 * Bytes read from TCP connections.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.bytesReceived.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const bytesReceived = Internal.bytesReceived
/**
 * Bytes written to TCP connections.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.bytesSent.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const bytesSent = Internal.bytesSent
/**
 * Greeting messages received, TCP and UDP.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.messagesReceived.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const messagesReceived = Internal.messagesReceived
/**
 * Greeting replies sent, TCP and UDP.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.messagesSent.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const messagesSent = Internal.messagesSent
/**
 * UDP datagrams received.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.datagramsReceived.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const datagramsReceived = Internal.datagramsReceived
/**
 * UDP replies handed to the OS.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.datagramsAnswered.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const datagramsAnswered = Internal.datagramsAnswered
/**
 * UDP datagrams received and not answered.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.datagramsDropped.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const datagramsDropped = Internal.datagramsDropped
/**
 * Bytes of UDP datagrams received.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.datagramBytesReceived.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const datagramBytesReceived = Internal.datagramBytesReceived
/**
 * Bytes of UDP datagrams sent.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.datagramBytesSent.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const datagramBytesSent = Internal.datagramBytesSent
/**
 * Connections the greeting server closed for a line over its limit.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.linesTooLong.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const linesTooLong = Internal.linesTooLong
/**
 * Connections the greeting server closed for a line not complete in time.
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const chat = [MetricLabel.make("server", "chat")]
 * console.log(Metrics.linesTimedOut.unsafeValue(chat).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const linesTimedOut = Internal.linesTimedOut
/**
 * TCP connections closed before being served, labelled by `reason` (see `ProxyRejectedReason`).
 *
 * @example
 * ```ts
 * import { MetricLabel } from "effect"
 * import { Metrics } from "effect-net"
 *
 * const untrusted = [MetricLabel.make("server", "chat"), MetricLabel.make("reason", "untrusted")]
 * console.log(Metrics.proxyRejected.unsafeValue(untrusted).count) // 0
 * ```
 *
 * @since 0.1.0
 */
export const proxyRejected = Internal.proxyRejected
/**
 * Why `proxyRejected` counted a connection: its `reason` label.
 *
 * @example
 * ```ts
 * import type { Metrics } from "effect-net"
 *
 * const reason: Metrics.ProxyRejectedReason = "malformed"
 * ```
 *
 * @since 0.1.0
 */
export type ProxyRejectedReason =
  | "untrusted"
  | "not_proxy_protocol"
  | "malformed"
  | "too_large"
  | "closed"
  | "truncated"
  | "timeout"
  | "failed"

const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory of the process" })
const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use" })

/** Every labelled metric, so that a new server's show at zero in a scrape. */
const all = [
  connectionsAccepted,
  connectionsActive,
  connectionsRejected,
  pendingRefused,
  connectionsTimedOut,
  acceptErrors,
  tlsHandshakeFailures,
  bytesReceived,
  bytesSent,
  messagesReceived,
  messagesSent,
  datagramsReceived,
  datagramsAnswered,
  datagramsDropped,
  datagramBytesReceived,
  datagramBytesSent,
  linesTooLong,
  linesTimedOut
] as const

/**
 * Records the metrics of what is made in its scope, labelled `server`; the per-read and
 * per-message counts are added to their metrics once a second, and when the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const metrics = yield* Metrics.make({ server: "greeting" })
 *   yield* TcpGreetingServer.serve().pipe(Effect.provideService(Metrics.Metrics, metrics))
 * }).pipe(Effect.scoped, Effect.provide(TcpListener.layer({ port: 9999 })))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: MetricsOptions = {}): Effect.Effect<Metrics, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recorder = new Recorder(options.server ?? defaults.server)
    for (const metric of all) metric.unsafeValue(recorder.tags)
    for (const tags of Object.values(recorder.proxyRejectedTags)) proxyRejected.unsafeValue(tags)
    recorders.add(recorder)
    yield* Effect.addFinalizer(() => Effect.sync(() => (recorder.flush(), recorders.delete(recorder))))
    yield* Effect.forkScoped(Effect.repeat(Effect.sync(() => recorder.flush()), Schedule.spaced(Duration.seconds(1))))
    return recorder
  })

/**
 * `make` as a layer: provide it to the program whose metrics you want.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Metrics, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * const Live = TcpGreetingServer.layer().pipe(
 *   Layer.provide(TcpListener.layer({ port: 9999 })),
 *   Layer.provide(Metrics.layer({ server: "greeting" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: MetricsOptions = {}): Layer.Layer<Metrics> => Layer.scoped(Metrics, make(options))

/**
 * Every metric of this process now, the pending counts added and the process's memory sampled
 * first (`process_resident_memory_bytes`, `nodejs_heap_used_bytes`).
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-net"
 *
 * const names = Metrics.snapshot().map(({ metricKey }) => metricKey.name)
 * console.log(names.includes("nodejs_heap_used_bytes")) // true
 * ```
 *
 * @since 0.1.0
 */
export const snapshot = (): ReadonlyArray<MetricPair.MetricPair.Untyped> => {
  for (const recorder of recorders) recorder.flush()
  const memory = process.memoryUsage()
  residentMemory.unsafeUpdate(memory.rss, [])
  heapUsed.unsafeUpdate(memory.heapUsed, [])
  return Metric.unsafeSnapshot()
}

/**
 * The counter named `name` among `pairs`, summed over its labels (0 when absent).
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-net"
 *
 * console.log(Metrics.counterValue(Metrics.snapshot(), "effect_net_tcp_connections_accepted_total")) // 0
 * ```
 *
 * @since 0.1.0
 */
export const counterValue = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, name: string): number => {
  let sum = 0
  for (const { metricKey, metricState } of pairs) {
    if (metricKey.name === name && MetricState.isCounterState(metricState)) sum += Number(metricState.count)
  }
  return sum
}
