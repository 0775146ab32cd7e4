/**
 * The request the tutorial sends, plus a `User-Agent`: `GET`, the path, `Host` and
 * `Connection: close` (so the server closes after its response and no pipelining is needed).
 */
import { utf8 } from "../bytes.js"
import { version } from "../version.js"
import type { HttpUrl } from "./url.js"

export const userAgent = `effect-net/${version}`

/** The bytes of `GET url` on HTTP/1.1. */
export const get = (url: HttpUrl): Uint8Array =>
  utf8(`GET ${url.target} HTTP/1.1\r\nHost: ${url.authority}\r\nConnection: close\r\nUser-Agent: ${userAgent}\r\n\r\n`)
