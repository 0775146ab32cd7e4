/**
 * `GET` over the project's own TCP client (TLS for https): connect within a timeout, send the
 * tutorial's request, read the head, and hand back the body as a Stream pulled from the socket.
 * With `follow`, 3xx responses with a `Location` are followed, each over a new connection (the
 * URL's credentials only to the same origin).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Scope, Stream } from "effect"
import { tcpAddress } from "../address.js"
import { logRoutine } from "../internal/log.js"
import * as TcpClient from "../tcp/client.js"
import { printable } from "../text.js"
import type { TcpConnectError, TcpSocketError, TcpTimeoutError } from "../tcp/errors.js"
import * as Body from "./body.js"
import {
  type HttpBodyError,
  HttpRedirectError,
  type HttpResponseError,
  HttpTimeoutError,
  type HttpUrlError
} from "./errors.js"
import * as Request from "./request.js"
import * as Response from "./response.js"
import * as Url from "./url.js"

/**
 * Options of `get`: its limits (time, redirects, head size), so that a slow or misbehaving
 * server fails the request rather than holding it; each has a default (`defaults`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * // A local https server with a self-signed certificate, which may redirect twice.
 * const options: HttpGet.HttpGetOptions = { timeout: "5 seconds", follow: true, maxRedirects: 2, insecure: true }
 * const program = Effect.scoped(HttpGet.get("https://localhost:8443/", options))
 * ```
 *
 * @since 0.1.0
 */
export interface HttpGetOptions {
  /** How long connecting (TLS handshake included) may take, and the server may stay silent; default 30 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Follow 3xx responses that have a `Location`; default false. */
  readonly follow?: boolean | undefined
  /** With `follow`, how many redirects at most; default 5. */
  readonly maxRedirects?: number | undefined
  /** Accept an https server's certificate that does not verify (self-signed...); default false. */
  readonly insecure?: boolean | undefined
  /** Keep the transfer coding: a chunked body as received, chunk sizes included (the tutorial's output). */
  readonly raw?: boolean | undefined
  /** The limit on the response's header section; default 64 KiB. */
  readonly maxHeadBytes?: number | undefined
  /** The limit on interim (1xx) responses before the final one; default 100. */
  readonly maxInterimResponses?: number | undefined
}

/**
 * Every way `get` can fail, each a tagged error with a short message: a program matches on
 * `_tag` (and `reason`) or shows `message`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const status = (url: string) =>
 *   HttpGet.get(url).pipe(
 *     Effect.map((response) => `${response.head.status}`),
 *     Effect.catchAll((error: HttpGet.HttpGetError) => Effect.succeed(`${error._tag}: ${error.message}`)),
 *     Effect.scoped
 *   )
 * console.log(await Effect.runPromise(status("ftp://example.com/"))) // HttpUrlError: unsupported scheme in "ftp://example.com/"; only http:// and https:// are supported
 * ```
 *
 * @since 0.1.0
 */
export type HttpGetError =
  | HttpUrlError
  | HttpResponseError
  | HttpBodyError
  | HttpTimeoutError
  | HttpRedirectError
  | TcpConnectError
  | TcpSocketError

/**
 * The response of `get`: its head at once, its body to be read on demand (as a Stream, or
 * piece by piece with `runBody`), so that a body of any size passes through without being held.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const summary = (response: HttpGet.HttpGetResponse) =>
 *   Stream.runFold(response.body, 0, (total, bytes) => total + bytes.length).pipe(
 *     Effect.map((received) => `${response.head.status} ${response.head.reason}: ${received} bytes`)
 *   )
 * const program = Effect.scoped(Effect.flatMap(HttpGet.get("http://localhost:8080/"), summary))
 * ```
 *
 * @since 0.1.0
 */
export interface HttpGetResponse {
  /** The URL that answered (the last one, after redirects). */
  readonly url: Url.HttpUrl
  readonly head: Response.ResponseHead
  /** The body's length in bytes when the head announces it. */
  readonly length: number | undefined
  /** The body, read from the connection as it is pulled; valid within the scope of `get`. */
  readonly body: Stream.Stream<Uint8Array, HttpGetError>
  /**
   * The body, each piece handed to `onPiece` in order, the next read only once the Effect it
   * returned is done: a piece may be a view of the connection's read buffer, which that read
   * reuses, so `onPiece` writes it out (or decodes it) and keeps nothing of it but a copy. The
   * fast way to save a body: no Stream stage, no allocation per read. Read the body once, with
   * `body` or with this; valid within the scope of `get`.
   */
  readonly runBody: <E, R>(onPiece: (bytes: Uint8Array) => Effect.Effect<void, E, R>) => Effect.Effect<void, HttpGetError | E, R>
}

/**
 * The defaults of `HttpGetOptions`: generous enough for a slow server, bounded so that none holds
 * a request for ever.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * console.log(Duration.format(HttpGet.defaults.timeout), HttpGet.defaults.maxRedirects) // 30s 5
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  timeout: Duration.seconds(30),
  /** The connection's read buffer (plain http): how much one read may take from the OS. */
  readBufferBytes: 1024 * 1024,
  maxRedirects: 5,
  maxHeadBytes: Response.defaultMaxHeadBytes,
  maxInterimResponses: Response.defaultMaxInterimResponses
} as const

const redirects = new Set([301, 302, 303, 307, 308])

/** One request on one connection, in the given scope. */
const exchange = (url: Url.HttpUrl, options: HttpGetOptions): Effect.Effect<HttpGetResponse, HttpGetError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = options.timeout ?? defaults.timeout
    const connection = yield* TcpClient.connect({
      host: url.host,
      port: url.port,
      connectTimeout: timeout,
      idleTimeout: timeout,
      tls: url.scheme === "https" ? { insecure: options.insecure } : undefined,
      // Reads of up to 1 MiB into one buffer: fewer, larger pieces to carry and to write, and
      // no 64 KiB buffer per read awaiting the garbage collector.
      readBufferBytes: defaults.readBufferBytes
    })
    // The idle timeout (the only one set) is a silent server, as the user of a client sees it.
    const timedOut = ({ timeout }: TcpTimeoutError) => new HttpTimeoutError({ address: tcpAddress(url.host, url.port), timeout })
    const silent = <A>(effect: Effect.Effect<A, TcpSocketError | TcpTimeoutError>) =>
      Effect.catchTag(effect, "TcpTimeoutError", (error) => Effect.fail(timedOut(error)))
    yield* silent(connection.write(Request.get(url)))
    // Interim (1xx) heads, such as 103 Early Hints, come before the final one: readHead skips them.
    const [head, first] = yield* Response.readHead(
      options.maxHeadBytes ?? defaults.maxHeadBytes,
      options.maxInterimResponses ?? defaults.maxInterimResponses
    )(silent(connection.read))
    const length = yield* Body.bodyLength(head)
    const reads = Stream.catchTag(connection.reads, "TcpTimeoutError", (error) => Stream.fail(timedOut(error)))
    const readLent = silent(connection.readLent)
    return {
      url,
      head,
      length: length._tag === "Length" ? length.length : undefined,
      body: Body.decode(length, options.raw)(first.length === 0 ? reads : Stream.concat(Stream.make(first), reads)),
      runBody: (onPiece) => Body.run(length, options.raw)(first, readLent, onPiece)
    }
  })

/**
 * Sends `GET url`: the head of the response (after redirects, with `follow`) and its body as a
 * Stream. The scope owns the connection: close it when done with the body.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * // The status on stderr, the body on stdout; the connection closes with the scope.
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const response = yield* HttpGet.get("http://localhost:8080/", { follow: true })
 *     yield* Console.error(response.head.status, response.head.reason)
 *     yield* response.runBody((bytes) => Effect.sync(() => process.stdout.write(bytes)))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
export const get = (
  url: string | Url.HttpUrl,
  options: HttpGetOptions = {}
): Effect.Effect<HttpGetResponse, HttpGetError, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const maxRedirects = options.maxRedirects ?? defaults.maxRedirects
    let target = typeof url === "string" ? yield* Url.parse(url) : url
    for (let followed = 0;; followed++) {
      const hop = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const response = yield* Scope.extend(exchange(target, options), hop)
      const location = Response.header(response.head, "location")
      if (options.follow !== true || !redirects.has(response.head.status) || location === undefined) return response
      // The redirect's body is not wanted: its connection closes before the next one opens.
      yield* Scope.close(hop, Exit.void)
      const next = yield* Url.resolve(target, location)
      if (followed === maxRedirects) return yield* Effect.fail(new HttpRedirectError({ url: Url.display(next), maxRedirects }))
      yield* logRoutine(`${response.head.status} ${printable(response.head.reason)}: following the redirect to ${Url.display(next)}`)
      target = next
    }
  })
