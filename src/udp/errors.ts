/**
 * Tagged errors of the UDP building blocks. Each message says what went wrong and what to do.
 */
import { Data, Duration } from "effect"
import { describeError, errorCode, formatAddress, type SocketAddress } from "../address.js"

/** Binding a UDP socket failed (port in use, no permission, unknown host...). */
export class UdpBindError extends Data.TaggedError("UdpBindError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = `cannot bind UDP to ${formatAddress(this)}: ${describeError(this.cause)}`
    switch (errorCode(this.cause)) {
      case "EADDRINUSE":
        return `${where}; stop the other server or choose another --port (0 picks a free one)`
      case "EACCES":
        return `${where}; ports below 1024 need privileges, choose a higher --port`
      case "EADDRNOTAVAIL":
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return `${where}; use a local address such as 127.0.0.1, ::1 or 0.0.0.0`
      default:
        return where
    }
  }
}

/** A datagram could not be sent: bad address, over the size limit, socket closed... */
export class UdpSendError extends Data.TaggedError("UdpSendError")<{
  /** Where it was going. */
  readonly address: SocketAddress
  /** Its size in bytes. */
  readonly size: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = `cannot send a datagram of ${this.size} bytes to ${formatAddress(this.address)}`
    const code = errorCode(this.cause)
    if (code === "EMSGSIZE") return `${where}: it is larger than a UDP datagram can be (EMSGSIZE)`
    // Node's own errors (ERR_SOCKET_BAD_PORT...) explain themselves better than their code does.
    if (code?.startsWith("ERR_") && this.cause instanceof Error) return `${where}: ${this.cause.message}`
    return `${where}: ${describeError(this.cause)}`
  }
}

/** Some names got no reply, even after every retransmission. */
export class UdpNoReplyError extends Data.TaggedError("UdpNoReplyError")<{
  readonly server: SocketAddress
  /** The names that went unanswered, in the order they were given. */
  readonly names: ReadonlyArray<string>
  readonly attempts: number
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `no reply from ${formatAddress(this.server)} for ${this.names.join(", ")} (each sent ${this.attempts} ` +
      `time(s), ${Duration.format(this.timeout)} apart); is the server running on that host and port? ` +
      `If it is slow or the network loses datagrams, raise --timeout or --retries`
  }
}
