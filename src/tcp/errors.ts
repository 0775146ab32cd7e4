/**
 * Tagged errors of the TCP building blocks. Each message says what went wrong and what to do.
 */
import { Data } from "effect"
import { describeError, errorCode, formatAddress } from "../address.js"

/** Binding a listener failed (port in use, no permission, unknown host...). */
export class TcpListenError extends Data.TaggedError("TcpListenError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = formatAddress(this)
    switch (errorCode(this.cause)) {
      case "EADDRINUSE":
        return `cannot listen on ${where}: the address is already in use; stop the other server or choose another --port (0 picks a free one)`
      case "EACCES":
        return `cannot listen on ${where}: permission denied; ports below 1024 need privileges, choose a higher --port`
      case "EADDRNOTAVAIL":
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return `cannot listen on ${where}: ${describeError(this.cause)}; use a local address such as 127.0.0.1, ::1 or 0.0.0.0`
      default:
        return `cannot listen on ${where}: ${describeError(this.cause)}`
    }
  }
}

/** A TLS failure: system errors (a reset) as usual, OpenSSL's and Node's certificate errors by their reason and code. */
const describeTlsError = (cause: unknown): string => {
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
  /** `Tls`: the TLS handshake failed; `Certificate`: the server's TLS certificate is not trusted. */
  readonly reason: "Refused" | "Timeout" | "Unresolved" | "Tls" | "Certificate" | "Other"
  readonly cause?: unknown
}> {
  static fromCause(host: string, port: number, cause: unknown): TcpConnectError {
    const code = errorCode(cause)
    const reason = code === "ECONNREFUSED"
      ? "Refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "Unresolved"
      : code === "ETIMEDOUT"
      ? "Timeout"
      : "Other"
    return new TcpConnectError({ host, port, reason, cause })
  }

  override get message(): string {
    const where = formatAddress(this)
    switch (this.reason) {
      case "Refused":
        return `cannot connect to ${where}: connection refused; is the server running on that host and port?`
      case "Timeout":
        return `cannot connect to ${where}: timed out; check the host and port, or raise --timeout`
      case "Unresolved":
        return `cannot connect to ${where}: ${describeError(this.cause)}; check the host name`
      case "Tls":
        return `cannot connect to ${where}: the TLS handshake failed: ${describeTlsError(this.cause)}; does the server speak TLS on that port (or is it http://)?`
      case "Certificate":
        return `cannot connect to ${where}: its TLS certificate is not trusted: ${describeTlsError(this.cause)}; if you trust this server (a self-signed certificate, say), use --insecure`
      case "Other":
        return `cannot connect to ${where}: ${describeError(this.cause)}`
    }
  }
}

/** An established connection failed: reset by the peer, written after close, and so on. */
export class TcpSocketError extends Data.TaggedError("TcpSocketError")<{
  readonly remote: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `the connection with ${this.remote} failed: ${describeError(this.cause)}`
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
      ? `closed the connection with ${this.remote}: no data received for ${this.seconds} s (idle timeout)`
      : `closed the connection with ${this.remote}: it did not read our replies for ${this.seconds} s (write timeout)`
  }
}
