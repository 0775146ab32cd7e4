/**
 * Tagged errors of the TCP building blocks: a `reason` to match on, the OS error as `cause`, and
 * a short message. Advice that names a program's flags belongs to that program (see src/cli).
 */
import { Data } from "effect"
import { type BindReason, bindReason, describeError, errorCode, formatAddress } from "../address.js"

/**
 * Binding a listener failed. With a Unix socket `path`, `AddressInUse` is a server listening on
 * it, or a file that is not a socket in the way. `Tls`: the certificate or key is unusable (not
 * PEM, or a key that is not the certificate's).
 */
export class TcpListenError extends Data.TaggedError("TcpListenError")<{
  readonly host: string
  readonly port: number
  /** The Unix domain socket's path, when it was one. */
  readonly path?: string | undefined
  readonly reason: BindReason | "Tls"
  readonly cause: unknown
}> {
  static fromCause(host: string, port: number, cause: unknown, path?: string): TcpListenError {
    return new TcpListenError({ host, port, path, reason: bindReason(cause), cause })
  }

  override get message(): string {
    const where = `cannot listen on ${formatAddress(this)}`
    return this.reason === "Tls"
      ? `${where}: the TLS certificate or key is unusable: ${describeTlsError(this.cause)}`
      : `${where}: ${describeError(this.cause)}`
  }
}

/** A TLS failure: system errors (a reset) as usual, OpenSSL's and Node's certificate errors by their reason and code. */
export const describeTlsError = (cause: unknown): string => {
  if (!(cause instanceof Error) || "syscall" in cause) return describeError(cause)
  // OpenSSL's errors carry a short `reason` ("wrong version number") beside a long message.
  const reason = "reason" in cause && typeof cause.reason === "string" ? cause.reason : cause.message
  const code = errorCode(cause)
  return code === undefined ? reason : `${reason} (${code})`
}

/** Connecting to a server failed or did not finish in time. */
export class TcpConnectError extends Data.TaggedError("TcpConnectError")<{
  readonly host: string
  readonly port: number
  /** The Unix domain socket's path, when it was one. */
  readonly path?: string | undefined
  /** `Tls`: the TLS handshake failed; `Certificate`: the server's TLS certificate is not trusted. */
  readonly reason: "Refused" | "Timeout" | "Unresolved" | "Tls" | "Certificate" | "Other"
  readonly cause?: unknown
}> {
  static fromCause(host: string, port: number, cause: unknown, path?: string): TcpConnectError {
    const code = errorCode(cause)
    const reason = code === "ECONNREFUSED"
      ? "Refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "Unresolved"
      : code === "ETIMEDOUT"
      ? "Timeout"
      : "Other"
    return new TcpConnectError({ host, port, path, reason, cause })
  }

  override get message(): string {
    const where = `cannot connect to ${formatAddress(this)}`
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

/** An established connection failed: reset by the peer, written after close, and so on. */
export class TcpSocketError extends Data.TaggedError("TcpSocketError")<{
  readonly remote: string
  readonly cause: unknown
}> {
  override get message(): string {
    // Over TLS, a failure may be OpenSSL's (an alert from the peer): told by its reason.
    return `the connection with ${this.remote} failed: ${describeTlsError(this.cause)}`
  }
}

/** A connection was closed because it stayed silent, or did not take our writes, for too long. */
export class TcpTimeoutError extends Data.TaggedError("TcpTimeoutError")<{
  readonly remote: string
  readonly kind: "Idle" | "Write"
  readonly seconds: number
}> {
  override get message(): string {
    return this.kind === "Idle"
      ? `closed the connection with ${this.remote}: no data sent or received for ${this.seconds} s (idle timeout)`
      : `closed the connection with ${this.remote}: it did not read our replies for ${this.seconds} s (write timeout)`
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
