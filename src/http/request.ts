/**
 * The request the tutorial sends, plus a `User-Agent`: `GET`, the path, `Host` and
 * `Connection: close` (so the server closes after its response and no pipelining is needed);
 * `Authorization: Basic` when the URL has user info.
 */
import { utf8 } from "../bytes.js"
import { version } from "../version.js"
import type { HttpUrl } from "./url.js"

export const userAgent = `effect-net/${version}`

/** `Authorization: Basic` with the URL's user info (as UTF-8, RFC 7617), or nothing. */
const authorization = ({ credentials }: HttpUrl): string =>
  credentials === undefined
    ? ""
    : `Authorization: Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}\r\n`

/** The bytes of `GET url` on HTTP/1.1. */
export const get = (url: HttpUrl): Uint8Array =>
  utf8(
    `GET ${url.target} HTTP/1.1\r\nHost: ${url.authority}\r\n${authorization(url)}Connection: close\r\nUser-Agent: ${userAgent}\r\n\r\n`
  )
