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
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpListener } from "effect-net"
 *
 * // A second listener on the port the first one holds.
 * const program = Effect.gen(function*() {
 *   const first = yield* TcpListener.make({ port: 0 })
 *   const port = first.address._tag === "TcpAddress" ? first.address.port : 0
 *   return yield* TcpListener.make({ port }).pipe(
 *     Effect.as("bound twice?"),
 *     Effect.catchTag("TcpListenError", (error) => Effect.succeed(error.reason))
 *   )
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // AddressInUse
 * ```
 *
 * @since 0.1.0
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

/**
 * Connecting to a server failed or did not finish in time (`connectTimeout`), its name did not
 * resolve, or its TLS handshake failed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpClient, TcpListener } from "effect-net"
 *
 * // A port that was free a moment ago: nothing listens there now.
 * const program = Effect.gen(function*() {
 *   const closed = yield* Effect.scoped(TcpListener.make({ port: 0 }))
 *   const port = closed.address._tag === "TcpAddress" ? closed.address.port : 0
 *   return yield* TcpClient.connect({ port }).pipe(
 *     Effect.as("connected?"),
 *     Effect.catchTag("TcpConnectError", (error) => Effect.succeed(error.reason))
 *   )
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // Refused
 * ```
 *
 * @since 0.1.0
 */
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
 * An established connection failed: `Reset` by the peer (or a broken pipe), `Closed` (used after
 * it was closed), `Tls` (an alert from a TLS peer), or `Other`. The reads and writes of a
 * `Connection` fail with it (see `TcpConnection.TcpError`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpClient, TcpListener } from "effect-net"
 *
 * // Writing to a connection after closing it.
 * const program = Effect.gen(function*() {
 *   const listener = yield* TcpListener.make({ port: 0 })
 *   const port = listener.address._tag === "TcpAddress" ? listener.address.port : 0
 *   const connection = yield* TcpClient.connect({ port })
 *   yield* connection.close
 *   return yield* connection.write(new TextEncoder().encode("late")).pipe(
 *     Effect.as("written?"),
 *     Effect.catchTag("TcpSocketError", (error) => Effect.succeed(error.reason))
 *   )
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // Closed
 * ```
 *
 * @since 0.1.0
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
 * our writes (`Write`), for its `timeout` (the `idleTimeout` and `writeTimeout` options): a peer
 * cannot hold a connection open, or our memory, forever.
 *
 * @example
 * ```ts
 * import { Duration, Effect, Stream } from "effect"
 * import { TcpClient, TcpListener } from "effect-net"
 *
 * // A client that connects and says nothing: the server's read fails once the idle timeout is up.
 * const program = Effect.gen(function*() {
 *   const listener = yield* TcpListener.make({ port: 0, idleTimeout: "100 millis" })
 *   const port = listener.address._tag === "TcpAddress" ? listener.address.port : 0
 *   yield* TcpClient.connect({ port })
 *   const [accepted] = yield* Stream.runCollect(Stream.take(listener.accept, 1))
 *   return yield* accepted.read.pipe(
 *     Effect.as("read?"),
 *     Effect.catchTag("TcpTimeoutError", (error) => Effect.succeed(`${error.reason} after ${Duration.format(error.timeout)}`))
 *   )
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // Idle after 100ms
 * ```
 *
 * @since 0.1.0
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

/**
 * A connection did not start with a valid PROXY protocol header (see `ProxyProtocol`): a
 * listener with `proxyProtocol` closes such a connection; `ProxyProtocol.readHeader` fails with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProxyProtocol } from "effect-net"
 *
 * // A client that speaks first, straight to a server that expects a balancer's header.
 * const read = Effect.succeed<Uint8Array | undefined>(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"))
 * const outcome = ProxyProtocol.readHeader(read).pipe(
 *   Effect.as("a header"),
 *   Effect.catchTag("ProxyProtocolError", (error) => Effect.succeed(error.reason))
 * )
 * console.log(await Effect.runPromise(outcome)) // NotProxyProtocol
 * ```
 *
 * @since 0.1.0
 */
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
