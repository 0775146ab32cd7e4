/**
 * The servers' metrics, as Effect `Metric`s in the global registry (see `prometheus.ts` for
 * the text exposition). Hot paths update them with `unsafeUpdate(n, noTags)`: a cached hook,
 * no Effect allocated per message.
 */
import { Metric, type MetricLabel } from "effect"

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
export const connectionsTimedOut = counter(
  "effect_net_tcp_connections_timed_out_total",
  "TCP connections closed by the idle or the write timeout"
)
export const acceptErrors = counter(
  "effect_net_tcp_accept_errors_total",
  "Failed accepts, such as EMFILE when the process is out of file descriptors"
)
export const bytesReceived = counter("effect_net_tcp_bytes_received_total", "Bytes read from TCP connections")
export const bytesSent = counter("effect_net_tcp_bytes_sent_total", "Bytes written to TCP connections")
export const messagesReceived = counter("effect_net_messages_received_total", "Greeting messages received (TCP and UDP)")
export const messagesSent = counter("effect_net_messages_sent_total", "Greeting replies sent (TCP and UDP)")
export const datagramsReceived = counter("effect_net_udp_datagrams_received_total", "UDP datagrams received")
export const datagramsAnswered = counter("effect_net_udp_datagrams_answered_total", "UDP replies handed to the OS")
export const datagramsDropped = counter(
  "effect_net_udp_datagrams_dropped_total",
  "UDP datagrams dropped because they came faster than they were answered"
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

// Registered now, so that a scrape shows every metric, zeros included.
for (
  const metric of [
    connectionsAccepted,
    connectionsActive,
    connectionsRejected,
    connectionsTimedOut,
    acceptErrors,
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
    logLinesDropped
  ]
) metric.unsafeValue(noTags)
