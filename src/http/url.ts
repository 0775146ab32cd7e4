/**
 * `http://` and `https://` URLs: what to connect to (host, port, TLS) and what to ask for
 * (path and query, the `Host` header, credentials). Parsed by the WHATWG `URL`, so IPv6
 * literals, percent-encoding and relative `Location`s behave as in browsers. The user info is
 * kept apart from the URL that is shown: a password is never printed.
 *
 * @since 0.1.0
 * @module
 */
import { Either } from "effect"
import { HttpUrlError } from "./errors.js"

/**
 * The user info of a URL (`http://user:password@host/`), decoded: kept out of `href`, so that
 * the URL can be shown, and sent as `Authorization: Basic`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const url = Either.getOrThrow(HttpGet.Url.parse("http://ann:p%40ss@localhost:8080/"))
 * console.log(url.credentials) // { user: 'ann', password: 'p@ss' }
 * ```
 *
 * @since 0.1.0
 */
export interface Credentials {
  readonly user: string
  readonly password: string
}

/**
 * A URL parsed for a request: where to connect and what to send, worked out once (default
 * port, `Host` header, request target), the credentials apart.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const url: HttpGet.Url.HttpUrl = Either.getOrThrow(HttpGet.Url.parse("https://[::1]/a/b?q=1#top"))
 * console.log(url.host, url.port, url.authority, url.target) // ::1 443 [::1] /a/b?q=1
 * ```
 *
 * @since 0.1.0
 */
export interface HttpUrl {
  /** The normalized URL, without its user info (see `display` for a URL to show). */
  readonly href: string
  readonly scheme: "http" | "https"
  /** A name or an IP address; an IPv6 address without its brackets. */
  readonly host: string
  /** The URL's port, or 80 / 443 by default. */
  readonly port: number
  /** The `Host` header: the host (IPv6 in brackets), with the port unless it is the default. */
  readonly authority: string
  /** The request target: the path (at least `/`) and the query; the fragment is not sent. */
  readonly target: string
  /** The URL's user info, sent as `Authorization: Basic` (as curl does). */
  readonly credentials?: Credentials | undefined
}

const defaultPorts = { http: 80, https: 443 } as const

// `URL.parse` would do, but not every Node release the package supports has it.
const toUrl = (text: string, base?: string): URL | undefined => {
  try {
    return new URL(text, base)
  } catch {
    return undefined
  }
}

/** `text` with the password of its user info masked: `http://user:***@host/`. */
const masked = (text: string): string => text.replace(/^([^/?#]*\/\/[^/?#:]*:)[^/?#]*@/, "$1***@")

/** Percent-decoded; a stray `%` is kept as it is. */
const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const fromUrl = (url: URL, text: string): Either.Either<HttpUrl, HttpUrlError> => {
  const scheme = url.protocol.slice(0, -1)
  if (scheme !== "http" && scheme !== "https") return Either.left(new HttpUrlError({ url: masked(text), reason: "UnsupportedScheme" }))
  const credentials = url.username === "" && url.password === ""
    ? undefined
    : { user: decoded(url.username), password: decoded(url.password) }
  url.username = ""
  url.password = ""
  return Either.right({
    href: url.href,
    scheme,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? defaultPorts[scheme] : Number(url.port),
    authority: url.host,
    target: url.pathname + url.search,
    ...(credentials === undefined ? {} : { credentials })
  })
}

/**
 * Whether `text` starts with a scheme (`mailto:`, `ftp:`) rather than a host and its port
 * (`localhost:8080/`): a colon that is not followed by digits and the end of the authority.
 */
const hasScheme = (text: string): boolean => /^[a-z][a-z0-9+.-]*:(?!\d+(?:[/?#]|$))/i.test(text)

/**
 * Parses a URL given by a user. Without a scheme (`example.com/x`, `localhost:8080`), `http://`
 * is assumed, as curl does; any scheme but http and https is refused (`mailto:a@b` too).
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * console.log(Either.getOrThrow(HttpGet.Url.parse("localhost:8080/docs")).href) // http://localhost:8080/docs
 * const refused = HttpGet.Url.parse("ftp://example.com/file")
 * if (Either.isLeft(refused)) console.log(refused.left.reason) // UnsupportedScheme
 * ```
 *
 * @since 0.1.0
 */
export const parse = (text: string): Either.Either<HttpUrl, HttpUrlError> => {
  const url = toUrl(hasScheme(text) ? text : `http://${text}`)
  return url === undefined
    ? Either.left(new HttpUrlError({ url: masked(text), reason: "Invalid" }))
    : fromUrl(url, text)
}

/** Scheme, host and port: where credentials may go. */
const sameOrigin = (a: HttpUrl, b: HttpUrl): boolean => a.scheme === b.scheme && a.host === b.host && a.port === b.port

/**
 * Resolves a redirect's `Location` (absolute, or relative to the URL that answered). The
 * credentials of `base` go along to the same origin only; a `Location` may carry its own.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const base = Either.getOrThrow(HttpGet.Url.parse("http://ann:secret@example.com/a/b"))
 * const next = Either.getOrThrow(HttpGet.Url.resolve(base, "../c"))
 * console.log(next.href, next.credentials?.user) // http://example.com/c ann
 * const elsewhere = Either.getOrThrow(HttpGet.Url.resolve(base, "https://example.org/"))
 * console.log(elsewhere.credentials) // undefined
 * ```
 *
 * @since 0.1.0
 */
export const resolve = (base: HttpUrl, location: string): Either.Either<HttpUrl, HttpUrlError> => {
  const url = toUrl(location, base.href)
  if (url === undefined) return Either.left(new HttpUrlError({ url: masked(location), reason: "Invalid" }))
  return Either.map(fromUrl(url, location), (next) =>
    next.credentials === undefined && base.credentials !== undefined && sameOrigin(base, next)
      ? { ...next, credentials: base.credentials }
      : next)
}

/**
 * The URL to show in a log line or a message: `href` with the user name, and `***` for a
 * password.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const url = Either.getOrThrow(HttpGet.Url.parse("http://ann:secret@example.com/"))
 * console.log(HttpGet.Url.display(url)) // http://ann:***@example.com/
 * ```
 *
 * @since 0.1.0
 */
export const display = (url: HttpUrl): string => {
  if (url.credentials === undefined) return url.href
  const user = encodeURIComponent(url.credentials.user)
  return url.href.replace("//", url.credentials.password === "" ? `//${user}@` : `//${user}:***@`)
}

/**
 * The name to save the body under: the last path segment, decoded, or `index.html` when there
 * is none. Control characters stay percent-encoded (`a%0Ab.txt`): a name never holds one.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { HttpGet } from "effect-net"
 *
 * const name = (text: string) => HttpGet.Url.fileName(Either.getOrThrow(HttpGet.Url.parse(text)))
 * console.log(name("http://example.com/files/annual%20report.pdf?v=2"), name("http://example.com/")) // annual report.pdf index.html
 * ```
 *
 * @since 0.1.0
 */
export const fileName = (url: HttpUrl): string => {
  const segment = url.target.replace(/\?.*$/, "").split("/").pop() ?? ""
  const name = decoded(segment).replace(/[\x00-\x1f\x7f-\x9f]/g, encodeURIComponent)
  // An encoded slash would name a file in another directory.
  return name === "" || name.includes("/") ? "index.html" : name
}
