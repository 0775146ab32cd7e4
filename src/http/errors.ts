/**
 * Tagged errors of the HTTP client: a `reason` to match on and a short message (advice that
 * names flags belongs to the program, see src/cli).
 */
import { Data, Duration } from "effect"
import { formatAddress, type TcpAddress } from "../address.js"
import { quote } from "../text.js"

/**
 * The URL could not be parsed, or names a scheme other than http and https: the request is
 * refused before any connection.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const parsed = HttpGet.Url.parse("http://[::1/")
 * if (Either.isLeft(parsed)) console.log(parsed.left.reason) // Invalid
 * ```
 *
 * @since 0.1.0
 */
export class HttpUrlError extends Data.TaggedError("HttpUrlError")<{
  /** The URL as given, its password (if any) masked. */
  readonly url: string
  readonly reason: "Invalid" | "UnsupportedScheme"
}> {
  override get message(): string {
    return this.reason === "Invalid"
      ? `invalid URL ${quote(this.url)}; expected http://HOST[:PORT]/PATH or https://...`
      : `unsupported scheme in ${quote(this.url)}; only http:// and https:// are supported`
  }
}

/**
 * The server's status line or header section is not HTTP/1.x, or is too large: most often
 * the port speaks another protocol (https on an http URL, or the reverse).
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * // A server that closes without answering.
 * const result = Effect.runSync(Effect.either(HttpGet.Response.readHead()(Effect.succeed(undefined))))
 * if (Either.isLeft(result)) console.log(result.left.reason) // NoResponse
 * ```
 *
 * @since 0.1.0
 */
export class HttpResponseError extends Data.TaggedError("HttpResponseError")<{
  readonly reason:
    | "NoResponse"
    | "IncompleteHead"
    | "MalformedStatusLine"
    | "MalformedHeader"
    | "HeadTooLarge"
    | "TooManyInterimResponses"
  /** The offending line, the limit in bytes for `HeadTooLarge`, the limit for `TooManyInterimResponses`. */
  readonly detail?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NoResponse":
        return "the server closed the connection without a response; is it an HTTP server?"
      case "IncompleteHead":
        return "the server closed the connection in the middle of the response's header section"
      case "MalformedStatusLine":
        return `malformed status line ${quote(this.detail ?? "")} (expected HTTP/1.x CODE REASON); is it an HTTP server (https:// for a TLS port)?`
      case "MalformedHeader":
        return `malformed header ${quote(this.detail ?? "")} in the server's response`
      case "HeadTooLarge":
        return `the response's header section is over ${this.detail} bytes; the server is not speaking HTTP, or is misbehaving`
      case "TooManyInterimResponses":
        return `more than ${this.detail} interim (1xx) responses before the final one; the server is misbehaving`
    }
  }
}

/**
 * The body ended before its announced end, or its chunked encoding is broken: what was
 * received is incomplete, and `received` says how much of it there is.
 *
 * @example
 * ```ts
 * import { Effect, Either, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const body = HttpGet.Body.chunked()(Stream.make("zz\r\n").pipe(Stream.encodeText))
 * const result = Effect.runSync(Effect.either(Stream.runDrain(body)))
 * if (Either.isLeft(result)) console.log(result.left.message) // malformed chunked body after 0 bytes: invalid chunk size line "zz"
 * ```
 *
 * @since 0.1.0
 */
export class HttpBodyError extends Data.TaggedError("HttpBodyError")<{
  readonly reason: "Truncated" | "MalformedChunk"
  /** Body bytes received (after decoding) before the failure. */
  readonly received: number
  /** The announced length, when the body had a Content-Length. */
  readonly expected?: number | undefined
  readonly detail?: string | undefined
}> {
  override get message(): string {
    if (this.reason === "MalformedChunk") {
      return `malformed chunked body after ${this.received} bytes: ${this.detail}`
    }
    return this.expected === undefined
      ? `the body was truncated after ${this.received} bytes: the connection closed before the last chunk; try again`
      : `the body was truncated after ${this.received} of ${this.expected} bytes: the connection closed early; try again`
  }
}

/**
 * The server sent nothing for longer than the timeout, before or during the response: a stuck
 * server fails the request instead of holding it.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { HttpTimeoutError, tcpAddress } from "effect-net"
 *
 * const error = new HttpTimeoutError({ address: tcpAddress("127.0.0.1", 8080), timeout: Duration.seconds(30) })
 * console.log(error.message) // 127.0.0.1:8080 sent nothing for 30 s
 * ```
 *
 * @since 0.1.0
 */
export class HttpTimeoutError extends Data.TaggedError("HttpTimeoutError")<{
  /** The server. */
  readonly address: TcpAddress
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `${formatAddress(this.address)} sent nothing for ${Duration.toSeconds(this.timeout)} s`
  }
}

/**
 * `follow` met more redirects than it may follow (`maxRedirects`): a server redirecting in a
 * loop ends the request.
 *
 * @example
 * ```ts
 * import { HttpRedirectError } from "effect-net"
 *
 * const error = new HttpRedirectError({ url: "http://example.com/a", maxRedirects: 5 })
 * console.log(error._tag, error.maxRedirects) // HttpRedirectError 5
 * ```
 *
 * @since 0.1.0
 */
export class HttpRedirectError extends Data.TaggedError("HttpRedirectError")<{
  /** The next URL, its password (if any) masked. */
  readonly url: string
  readonly maxRedirects: number
}> {
  override get message(): string {
    return `more than ${this.maxRedirects} redirects (the last one to ${this.url}); the server may be redirecting in a loop`
  }
}
