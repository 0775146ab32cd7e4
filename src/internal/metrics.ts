/**
 * The metrics' definitions and what records into them: one `Recorder` per `Metrics` service,
 * holding its labels and the per-read and per-message counts not yet added to their metrics.
 * Where no `Metrics` is provided, the transport holds `undefined` and records nothing.
 */
import { Context, Effect, Metric, MetricLabel, Option } from "effect"
import type { Metrics, ProxyRejectedReason } from "../metrics/metrics.js"

export const MetricsTag = Context.GenericTag<Metrics>("effect-net/Metrics")

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
export const datagramsReceived = counter("effect_net_udp_datagrams_received_total", "UDP datagrams received")
export const datagramsAnswered = counter("effect_net_udp_datagrams_answered_total", "UDP replies handed to the OS")
export const datagramsDropped = counter(
  "effect_net_udp_datagrams_dropped_total",
  "UDP datagrams received and not answered: they came faster than they were answered (the buffer was full, or they waited too long), a shutdown came first, or the reply could not be sent"
)
export const datagramBytesReceived = counter("effect_net_udp_bytes_received_total", "Bytes of UDP datagrams received")
export const datagramBytesSent = counter("effect_net_udp_bytes_sent_total", "Bytes of UDP datagrams sent")
export const linesTooLong = counter(
  "effect_net_tcp_lines_too_long_total",
  "Connections closed for a line over --max-line-bytes"
)
export const linesTimedOut = counter(
  "effect_net_tcp_lines_timed_out_total",
  "Connections closed for a line not complete within --line-timeout of its first byte"
)
export const proxyRejected = counter(
  "effect_net_tcp_proxy_rejected_total",
  "TCP connections closed before being served, by reason: from a peer not trusted to send a PROXY protocol header, or without a valid one"
)


/** A `Metrics` service's state; the service itself when made by `Metrics.make`. */
export class Recorder implements Metrics {
  readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
  /** The tag set of each `proxyRejected` reason (the same array keeps the metric's hook cached). */
  readonly proxyRejectedTags: Readonly<Record<ProxyRejectedReason, ReadonlyArray<MetricLabel.MetricLabel>>>
  // Counted per read or per message, added to their metrics by `flush`.
  bytesReceived = 0
  bytesSent = 0
  messagesReceived = 0
  messagesSent = 0

  constructor(readonly server: string, tags: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("server", server)]) {
    const withReason = (reason: ProxyRejectedReason) => [...tags, MetricLabel.make("reason", reason)]
    this.tags = tags
    this.proxyRejectedTags = {
      untrusted: withReason("untrusted"),
      not_proxy_protocol: withReason("not_proxy_protocol"),
      malformed: withReason("malformed"),
      too_large: withReason("too_large"),
      closed: withReason("closed"),
      truncated: withReason("truncated"),
      timeout: withReason("timeout"),
      failed: withReason("failed")
    }
  }

  /** Adds `count` to `metric`, labelled with this server. */
  add(metric: Metric.Metric<any, number, any>, count = 1): void {
    metric.unsafeUpdate(count, this.tags)
  }

  /** Adds the counts to their metrics. */
  flush(): void {
    const { tags } = this
    if (this.bytesReceived > 0) bytesReceived.unsafeUpdate(this.bytesReceived, tags)
    if (this.bytesSent > 0) bytesSent.unsafeUpdate(this.bytesSent, tags)
    if (this.messagesReceived > 0) messagesReceived.unsafeUpdate(this.messagesReceived, tags)
    if (this.messagesSent > 0) messagesSent.unsafeUpdate(this.messagesSent, tags)
    this.bytesReceived = this.bytesSent = this.messagesReceived = this.messagesSent = 0
  }
}

/** The recorders whose counts a snapshot adds first. */
export const recorders = new Set<Recorder>()

const made = new WeakMap<Metrics, Recorder>()

/** The recorder of `metrics`: itself when `Metrics.make` made it, else one made for it once. */
export const recorderOf = (metrics: Metrics): Recorder => {
  if (metrics instanceof Recorder) return metrics
  let recorder = made.get(metrics)
  if (recorder === undefined) {
    recorder = new Recorder(metrics.server, metrics.tags)
    made.set(metrics, recorder)
    recorders.add(recorder)
  }
  return recorder
}

/** The recorder of the `Metrics` provided, if any. */
export const currentRecorder: Effect.Effect<Recorder | undefined> = Effect.map(
  Effect.serviceOption(MetricsTag),
  Option.match({ onNone: () => undefined, onSome: recorderOf })
)
