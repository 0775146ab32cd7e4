/**
 * `GET` over the project's own TCP client (TLS for https): connect within a timeout, send the
 * tutorial's request, read the head, and hand back the body as a Stream pulled from the socket.
 * With `follow`, 3xx responses with a `Location` are followed, each over a new connection (the
 * URL's credentials only to the same origin).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Scope, Stream } from "effect"
import { formatAddress } from "../address.js"
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
  /**
   * The body, each piece handed to `onPiece` in order, the next read only once the Effect it
   * returned is done: a piece may be a view of the connection's read buffer, which that read
   * reuses, so `onPiece` writes it out (or decodes it) and keeps nothing of it but a copy. The
   * fast way to save a body: no Stream stage, no allocation per read. Read the body once, with
   * `body` or with this; valid within the scope of `get`.
   */
  readonly runBody: <E, R>(onPiece: (bytes: Uint8Array) => Effect.Effect<void, E, R>) => Effect.Effect<void, HttpGetError | E, R>
}

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
const exchange = (url: Url.HttpUrl, options: GetOptions): Effect.Effect<HttpGetResponse, HttpGetError, Scope.Scope> =>
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
    const timedOut = ({ seconds }: TcpTimeoutError) => new HttpTimeoutError({ server: formatAddress(url), seconds })
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
      yield* logRoutine(`${response.head.status} ${printable(response.head.reason)}: following the redirect to ${Url.display(next)}`)
      target = next
    }
  })
