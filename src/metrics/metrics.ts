/**
 * The servers' metrics, as Effect `Metric`s in the global registry (see `prometheus.ts` for
 * the text exposition). Rare events update them with `unsafeUpdate(n, noTags)` (a cached hook,
 * no Effect allocated); what happens per message or per read adds to a plain number in `counts`
 * instead, which `flush` adds to its Metric: at each scrape, and once a second while a server
 * runs (`flushEverySecond`).
 */
import { Duration, Effect, Metric, MetricLabel, type MetricPair, MetricState, Schedule } from "effect"

/** The empty tag set; passing the same array keeps the metric's hook cached. */
export const noTags: ReadonlyArray<MetricLabel.MetricLabel> = []

const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

export const connectionsAccepted = counter("effect_net_tcp_connections_accepted_total", "TCP connections accepted")
export const connectionsActive = Metric.gauge("effect_net_tcp_connections_active", {
  description: "TCP connections being served now"
})
export const connectionsRejected = counter(
  "effect_net_tcp_connections_rejected_total",
  "TCP connections refused with the busy line at the connection limit"
)
export const pendingRefused = counter(
  "effect_net_tcp_pending_refused_total",
  "TCP connections closed at once because too many were accepted and not yet served (in their TLS handshake, awaiting their PROXY header, or queued)"
)
export const connectionsTimedOut = counter(
  "effect_net_tcp_connections_timed_out_total",
  "TCP connections closed by the idle or the write timeout"
)
export const acceptErrors = counter(
  "effect_net_tcp_accept_errors_total",
  "Failed accepts, such as EMFILE when the process is out of file descriptors"
)
export const tlsHandshakeFailures = counter(
  "effect_net_tcp_tls_handshake_failures_total",
  "TLS handshakes that failed or did not finish in time (a client not speaking TLS, or not trusting our certificate)"
)
export const bytesReceived = counter("effect_net_tcp_bytes_received_total", "Bytes read from TCP connections")
export const bytesSent = counter("effect_net_tcp_bytes_sent_total", "Bytes written to TCP connections")
export const messagesReceived = counter("effect_net_messages_received_total", "Greeting messages received (TCP and UDP)")
export const messagesSent = counter("effect_net_messages_sent_total", "Greeting replies sent (TCP and UDP)")
/** The names of the counters a UDP server's last line reads back (see `counterValue`). */
export const datagramCounterNames = {
  received: "effect_net_udp_datagrams_received_total",
  answered: "effect_net_udp_datagrams_answered_total",
  dropped: "effect_net_udp_datagrams_dropped_total"
} as const
export const datagramsReceived = counter(datagramCounterNames.received, "UDP datagrams received")
export const datagramsAnswered = counter(datagramCounterNames.answered, "UDP replies handed to the OS")
export const datagramsDropped = counter(
  datagramCounterNames.dropped,
  "UDP datagrams received and not answered: they came faster than they were answered (the buffer was full, or they waited too long), a shutdown came first, or the reply could not be sent"
)
export const datagramBytesReceived = counter("effect_net_udp_bytes_received_total", "Bytes of UDP datagrams received")
export const datagramBytesSent = counter("effect_net_udp_bytes_sent_total", "Bytes of UDP datagrams sent")
export const linesTooLong = counter(
  "effect_net_tcp_lines_too_long_total",
  "Connections closed for a line over --max-line-bytes"
)
export const logLinesDropped = counter(
  "effect_net_log_lines_dropped_total",
  "Log lines dropped because stderr was not being read (its buffer was full) or was closed"
)
export const linesTimedOut = counter(
  "effect_net_tcp_lines_timed_out_total",
  "Connections closed for a line not complete within --line-timeout of its first byte"
)

export const proxyRejected = counter(
  "effect_net_tcp_proxy_rejected_total",
  "TCP connections closed before being served, by reason: from a peer not trusted to send a PROXY protocol header, or without a valid one"
)
/** Why `proxyRejected` counted a connection (its `reason` tag). */
export type ProxyRejectedReason =
  | "untrusted"
  | "not_proxy_protocol"
  | "malformed"
  | "too_large"
  | "closed"
  | "truncated"
  | "timeout"
  | "failed"
/** The tag set of each reason (the same array keeps the metric's hook cached). */
export const proxyRejectedTags: Readonly<Record<ProxyRejectedReason, ReadonlyArray<MetricLabel.MetricLabel>>> = {
  untrusted: [MetricLabel.make("reason", "untrusted")],
  not_proxy_protocol: [MetricLabel.make("reason", "not_proxy_protocol")],
  malformed: [MetricLabel.make("reason", "malformed")],
  too_large: [MetricLabel.make("reason", "too_large")],
  closed: [MetricLabel.make("reason", "closed")],
  truncated: [MetricLabel.make("reason", "truncated")],
  timeout: [MetricLabel.make("reason", "timeout")],
  failed: [MetricLabel.make("reason", "failed")]
}

export const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory of the process" })
export const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use" })

/** Per-message counts not yet added to their Metrics (see `flush`). */
export const counts = {
  bytesReceived: 0,
  bytesSent: 0,
  messagesReceived: 0,
  messagesSent: 0
}

const countedBy: ReadonlyArray<readonly [keyof typeof counts, Metric.Metric.Counter<number>]> = [
  ["bytesReceived", bytesReceived],
  ["bytesSent", bytesSent],
  ["messagesReceived", messagesReceived],
  ["messagesSent", messagesSent]
]

/** Adds the `counts` to their Metrics. */
export const flush = (): void => {
  for (const [name, metric] of countedBy) {
    const count = counts[name]
    if (count === 0) continue
    counts[name] = 0
    metric.unsafeUpdate(count, noTags)
  }
}

/** Every metric of this process now: the counts flushed and its memory sampled first. */
export const snapshot = (): ReadonlyArray<MetricPair.MetricPair.Untyped> => {
  flush()
  const memory = process.memoryUsage()
  residentMemory.unsafeUpdate(memory.rss, noTags)
  heapUsed.unsafeUpdate(memory.heapUsed, noTags)
  return Metric.unsafeSnapshot()
}

/** The value of the counter `name`, without tags, among `pairs` (0 when it is not there). */
export const counterValue = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, name: string): number => {
  for (const { metricKey, metricState } of pairs) {
    if (metricKey.name === name && metricKey.tags.length === 0 && MetricState.isCounterState(metricState)) {
      return Number(metricState.count)
    }
  }
  return 0
}

/** Flushes once a second, and once more when interrupted: for the lifetime of a server. */
export const flushEverySecond: Effect.Effect<never> = Effect.sync(flush).pipe(
  Effect.repeat(Schedule.spaced(Duration.seconds(1))),
  Effect.zipRight(Effect.never),
  Effect.ensuring(Effect.sync(flush))
)

// Registered now, so that a scrape shows every metric, zeros included.
for (
  const metric of [
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
    linesTimedOut,
    logLinesDropped
  ]
) metric.unsafeValue(noTags)
for (const tags of Object.values(proxyRejectedTags)) proxyRejected.unsafeValue(tags)
