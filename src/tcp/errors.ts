/**
 * Tagged errors of the TCP building blocks: a `reason` to match on, the `address` it concerns,
 * the OS error as `cause`, and a short message. Advice that names a program's flags belongs to that program (see src/cli).
 */
import { Data, Duration } from "effect"
import { type Address, type BindReason, formatAddress } from "../address.js"
import { bindReason, describeError, errorCode } from "../internal/os-error.js"
import { describeTlsError } from "../internal/tls.js"

/**
 * Binding a listener failed. With a Unix socket, `AddressInUse` is a server listening on it, or a
 * file that is not a socket in the way. `Tls`: the certificate or key is unusable (not PEM, or a
 * key that is not the certificate's).
 */
export class TcpListenError extends Data.TaggedError("TcpListenError")<{
  readonly reason: BindReason | "Tls"
  /** Where it tried to listen. */
  readonly address: Address
  readonly cause: unknown
}> {
  static fromCause(address: Address, cause: unknown): TcpListenError {
    return new TcpListenError({ address, reason: bindReason(cause), cause })
  }

  override get message(): string {
    const where = `cannot listen on ${formatAddress(this.address)}`
    return this.reason === "Tls"
      ? `${where}: the TLS certificate or key is unusable: ${describeTlsError(this.cause)}`
      : `${where}: ${describeError(this.cause)}`
  }
}

/** Connecting to a server failed or did not finish in time. */
export class TcpConnectError extends Data.TaggedError("TcpConnectError")<{
  /** `Tls`: the TLS handshake failed; `Certificate`: the server's TLS certificate is not trusted. */
  readonly reason: "Refused" | "Timeout" | "Unresolved" | "Tls" | "Certificate" | "Other"
  /** The server it tried. */
  readonly address: Address
  readonly cause?: unknown
}> {
  static fromCause(address: Address, cause: unknown): TcpConnectError {
    const code = errorCode(cause)
    const reason = code === "ECONNREFUSED"
      ? "Refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "Unresolved"
      : code === "ETIMEDOUT"
      ? "Timeout"
      : "Other"
    return new TcpConnectError({ address, reason, cause })
  }

  override get message(): string {
    const where = `cannot connect to ${formatAddress(this.address)}`
    switch (this.reason) {
      case "Timeout":
        return `${where}: timed out`
      case "Tls":
        return `${where}: the TLS handshake failed: ${describeTlsError(this.cause)}`
      case "Certificate":
        return `${where}: its TLS certificate is not trusted: ${describeTlsError(this.cause)}`
      default:
        return `${where}: ${describeError(this.cause)}`
    }
  }
}

/**
 * An established connection failed: `Reset` by the peer (or a broken pipe), `Closed` (written
 * after it was closed), `Tls` (an alert from a TLS peer), or `Other`.
 */
export class TcpSocketError extends Data.TaggedError("TcpSocketError")<{
  readonly reason: "Reset" | "Closed" | "Tls" | "Other"
  /** The peer. */
  readonly address: Address
  readonly cause: unknown
}> {
  static fromCause(address: Address, cause: unknown): TcpSocketError {
    const code = errorCode(cause)
    const reason = code === "ECONNRESET" || code === "EPIPE"
      ? "Reset"
      : code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END"
      ? "Closed"
      : cause instanceof Error && !("syscall" in cause) && "reason" in cause
      ? "Tls"
      : "Other"
    return new TcpSocketError({ address, reason, cause })
  }

  /** The connection was used after it was closed. */
  static closed(address: Address): TcpSocketError {
    return new TcpSocketError({ address, reason: "Closed", cause: new Error("it is closed") })
  }

  override get message(): string {
    // Over TLS, a failure may be OpenSSL's (an alert from the peer): told by its reason.
    return `the connection with ${formatAddress(this.address)} failed: ${describeTlsError(this.cause)}`
  }
}

/**
 * A connection was closed because nothing moved either way (`Idle`), or its peer took none of
 * our writes (`Write`), for its `timeout`.
 */
export class TcpTimeoutError extends Data.TaggedError("TcpTimeoutError")<{
  readonly reason: "Idle" | "Write"
  /** The peer. */
  readonly address: Address
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    const seconds = Duration.toSeconds(this.timeout)
    return this.reason === "Idle"
      ? `closed the connection with ${formatAddress(this.address)}: no data sent or received for ${seconds} s (idle timeout)`
      : `closed the connection with ${formatAddress(this.address)}: it did not read our replies for ${seconds} s (write timeout)`
  }
}

/** A connection did not start with a valid PROXY protocol header (see `ProxyProtocol`). */
export class ProxyProtocolError extends Data.TaggedError("ProxyProtocolError")<{
  /**
   * `NotProxyProtocol`: the first bytes are neither a v1 nor a v2 header (a direct client?);
   * `Malformed`: a header that breaks the specification; `TooLarge`: a v1 line over 107 bytes,
   * or a v2 header over the size cap; `Closed`: the peer finished sending before the first
   * byte (a balancer's TCP health check does that); `Truncated`: it finished sending in the
   * middle of the header; `Timeout`: the header was not complete in time.
   */
  readonly reason: "NotProxyProtocol" | "Malformed" | "TooLarge" | "Closed" | "Truncated" | "Timeout"
  /** What was wrong, in a few words. */
  readonly detail: string
}> {
  override get message(): string {
    return `no valid PROXY protocol header: ${this.detail}`
  }
}
