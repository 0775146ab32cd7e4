/**
 * `http://` and `https://` URLs: what to connect to (host, port, TLS) and what to ask for
 * (path and query, the `Host` header). Parsed by the WHATWG `URL`, so IPv6 literals,
 * percent-encoding and relative `Location`s behave as in browsers.
 */
import { Either } from "effect"
import { HttpUrlError } from "./errors.js"

export interface HttpUrl {
  /** The normalized URL. */
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

const fromUrl = (url: URL, text: string): Either.Either<HttpUrl, HttpUrlError> => {
  const scheme = url.protocol.slice(0, -1)
  if (scheme !== "http" && scheme !== "https") return Either.left(new HttpUrlError({ url: text, reason: "UnsupportedScheme" }))
  return Either.right({
    href: url.href,
    scheme,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? defaultPorts[scheme] : Number(url.port),
    authority: url.host,
    target: url.pathname + url.search
  })
}

/** Parses a URL given by a user; without a scheme, `http://` is assumed (as curl does). */
export const parse = (text: string): Either.Either<HttpUrl, HttpUrlError> => {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`
  const url = toUrl(absolute)
  return url === undefined
    ? Either.left(new HttpUrlError({ url: text, reason: "Invalid" }))
    : fromUrl(url, text)
}

/** Resolves a redirect's `Location` (absolute, or relative to the URL that answered). */
export const resolve = (base: HttpUrl, location: string): Either.Either<HttpUrl, HttpUrlError> => {
  const url = toUrl(location, base.href)
  return url === undefined ? Either.left(new HttpUrlError({ url: location, reason: "Invalid" })) : fromUrl(url, location)
}

/** The name to save the body under: the last path segment, or `index.html` when there is none. */
export const fileName = (url: HttpUrl): string => {
  const segment = url.target.replace(/\?.*$/, "").split("/").pop() ?? ""
  let name = segment
  try {
    name = decodeURIComponent(segment)
  } catch {
    // A stray `%` is kept as it is.
  }
  // An encoded slash would name a file in another directory.
  return name === "" || name.includes("/") ? "index.html" : name
}
