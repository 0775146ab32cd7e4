/**
 * `http://` and `https://` URLs: what to connect to (host, port, TLS) and what to ask for
 * (path and query, the `Host` header, credentials). Parsed by the WHATWG `URL`, so IPv6
 * literals, percent-encoding and relative `Location`s behave as in browsers. The user info is
 * kept apart from the URL that is shown: a password is never printed.
 */
import { Either } from "effect"
import { HttpUrlError } from "./errors.js"

/** The user info of a URL (`http://user:password@host/`), decoded. */
export interface Credentials {
  readonly user: string
  readonly password: string
}

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

// `URL.parse` would do, but only from Node 20.18.
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
 */
export const resolve = (base: HttpUrl, location: string): Either.Either<HttpUrl, HttpUrlError> => {
  const url = toUrl(location, base.href)
  if (url === undefined) return Either.left(new HttpUrlError({ url: masked(location), reason: "Invalid" }))
  return Either.map(fromUrl(url, location), (next) =>
    next.credentials === undefined && base.credentials !== undefined && sameOrigin(base, next)
      ? { ...next, credentials: base.credentials }
      : next)
}

/** The URL to show: `href` with the user name, and `***` for a password. */
export const display = (url: HttpUrl): string => {
  if (url.credentials === undefined) return url.href
  const user = encodeURIComponent(url.credentials.user)
  return url.href.replace("//", url.credentials.password === "" ? `//${user}@` : `//${user}:***@`)
}

/**
 * The name to save the body under: the last path segment, decoded, or `index.html` when there
 * is none. Control characters stay percent-encoded (`a%0Ab.txt`): a name never holds one.
 */
export const fileName = (url: HttpUrl): string => {
  const segment = url.target.replace(/\?.*$/, "").split("/").pop() ?? ""
  const name = decoded(segment).replace(/[\x00-\x1f\x7f-\x9f]/g, encodeURIComponent)
  // An encoded slash would name a file in another directory.
  return name === "" || name.includes("/") ? "index.html" : name
}
