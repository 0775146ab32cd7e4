/**
 * `GET` over the project's own TCP client (TLS for https): connect within a timeout, send the
 * tutorial's request, read the head, and hand back the body as a Stream pulled from the socket.
 * With `follow`, 3xx responses with a `Location` are followed, each over a new connection (the
 * URL's credentials only to the same origin).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Scope, Stream } from "effect"
import { formatAddress } from "../address.js"
import * as TcpClient from "../tcp/client.js"
import { printable } from "../text.js"
import type { TcpConnectError, TcpSocketError } from "../tcp/errors.js"
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

export interface GetOptions {
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

export type HttpGetError =
  | HttpUrlError
  | HttpResponseError
  | HttpBodyError
  | HttpTimeoutError
  | HttpRedirectError
  | TcpConnectError
  | TcpSocketError

export interface HttpGetResponse {
  /** The URL that answered (the last one, after redirects). */
  readonly url: Url.HttpUrl
  readonly head: Response.ResponseHead
  /** The body's length in bytes when the head announces it. */
  readonly length: number | undefined
  /** The body, read from the connection as it is pulled; valid within the scope of `get`. */
  readonly body: Stream.Stream<Uint8Array, HttpGetError>
}

export const defaults = {
  timeout: Duration.seconds(30),
  maxRedirects: 5,
  maxHeadBytes: Response.defaultMaxHeadBytes,
  maxInterimResponses: Response.defaultMaxInterimResponses
} as const

const redirects = new Set([301, 302, 303, 307, 308])

/** One request on one connection, in the given scope. */
const exchange = (url: Url.HttpUrl, options: GetOptions): Effect.Effect<HttpGetResponse, HttpGetError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = options.timeout ?? defaults.timeout
    const connection = yield* TcpClient.connect({
      host: url.host,
      port: url.port,
      connectTimeout: timeout,
      idleTimeout: timeout,
      tls: url.scheme === "https" ? { insecure: options.insecure } : undefined,
      // While the body's writer is busy, up to 1 MiB may gather: fewer, larger chunks to carry
      // and to write (a 1 GiB download to a file: 4 s instead of 6.4 s here).
      readBufferBytes: 1024 * 1024
    })
    // The idle timeout (the only one set) is a silent server, as the user of a client sees it.
    const silent = ({ seconds }: { readonly seconds: number }) => new HttpTimeoutError({ server: formatAddress(url), seconds })
    const reads = Stream.catchTag(connection.reads, "TcpTimeoutError", (error) => Stream.fail(silent(error)))
    yield* Effect.catchTag(connection.write(Request.get(url)), "TcpTimeoutError", (error) => Effect.fail(silent(error)))
    // Interim (1xx) heads, such as 103 Early Hints, come before the final one: split skips them.
    const [head, rest] = yield* Response.split(
      options.maxHeadBytes ?? defaults.maxHeadBytes,
      options.maxInterimResponses ?? defaults.maxInterimResponses
    )(reads)
    const length = yield* Body.bodyLength(head)
    return {
      url,
      head,
      length: length._tag === "Length" ? length.length : undefined,
      body: Body.decode(length, options.raw)(rest)
    }
  })

/**
 * Sends `GET url`: the head of the response (after redirects, with `follow`) and its body as a
 * Stream. The scope owns the connection: close it when done with the body.
 */
export const get = (
  url: string | Url.HttpUrl,
  options: GetOptions = {}
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
      yield* Effect.logInfo(`${response.head.status} ${printable(response.head.reason)}: following the redirect to ${Url.display(next)}`)
      target = next
    }
  })
