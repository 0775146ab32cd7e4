/**
 * The request the tutorial sends, plus a `User-Agent`: `GET`, the path, `Host` and
 * `Connection: close` (so the server closes after its response and no pipelining is needed);
 * `Authorization: Basic` when the URL has user info.
 *
 * @since 0.1.0
 * @module
 */
import { utf8 } from "../bytes.js"
import { version } from "../version.js"
import type { HttpUrl } from "./url.js"

/**
 * The `User-Agent` sent: the package and its version, so that a server's logs tell which
 * client asked.
 *
 * @example
 * ```ts
 * import { HttpGet } from "effect-net"
 *
 * console.log(HttpGet.Request.userAgent) // effect-net/0.1.0
 * ```
 *
 * @since 0.1.0
 */
export const userAgent = `effect-net/${version}`

/** `Authorization: Basic` with the URL's user info (as UTF-8, RFC 7617), or nothing. */
const authorization = ({ credentials }: HttpUrl): string =>
  credentials === undefined
    ? ""
    : `Authorization: Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}\r\n`

/**
 * The bytes of `GET url` on HTTP/1.1, to write on a connection to the URL's host: the whole
 * request at once, as it has no body.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const url = Either.getOrThrow(HttpGet.Url.parse("http://localhost:8080/index.html?q=1"))
 * const [requestLine, host] = new TextDecoder().decode(HttpGet.Request.get(url)).split("\r\n")
 * console.log(requestLine) // GET /index.html?q=1 HTTP/1.1
 * console.log(host) // Host: localhost:8080
 * ```
 *
 * @since 0.1.0
 */
export const get = (url: HttpUrl): Uint8Array =>
  utf8(
    `GET ${url.target} HTTP/1.1\r\nHost: ${url.authority}\r\n${authorization(url)}Connection: close\r\nUser-Agent: ${userAgent}\r\n\r\n`
  )
