import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as HttpGet from "../../src/http/get.js"
import { header } from "../../src/http/response.js"
import { freePort } from "../helpers/process.js"
import { httpServer, httpsServer, rawServer, silentServer, writeApart } from "../helpers/servers.js"
import { gc, heapUsed, MB } from "../helpers/memory.js"


/** GETs `url`: the status, the headers and the body as latin1 text; or the error's tag and message. */
const fetch = (url: string, options: HttpGet.HttpGetOptions = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const response = yield* HttpGet.get(url, options)
    let body = ""
    yield* Stream.runForEach(response.body, (bytes) => Effect.sync(() => (body += Buffer.from(bytes).toString("latin1"))))
    return { status: response.head.status, url: response.url.href, length: response.length, head: response.head, body }
  })).pipe(Effect.catchAll((error) => Effect.succeed({ error: error._tag, message: error.message })))

describe("HttpGet.get", () => {
  it.scopedLive("reads a Content-Length body, and sends the tutorial's request", () =>
    Effect.gen(function*() {
      let request = ""
      const port = yield* httpServer((req, res) => {
        request = `${req.method} ${req.url} ${JSON.stringify(req.rawHeaders)}`
        res.setHeader("Content-Type", "text/plain")
        res.end("hello, world\n")
      })
      const result = yield* fetch(`http://127.0.0.1:${port}/a/b?c=d`)
      expect(result).toMatchObject({ status: 200, length: 13, body: "hello, world\n" })
      expect("head" in result && header(result.head, "content-type")).toBe("text/plain")
      expect(request).toBe(
        `GET /a/b?c=d ${JSON.stringify(["Host", `127.0.0.1:${port}`, "Connection", "close", "User-Agent", "effect-net/0.1.0"])}`
      )
    }))

  it.scopedLive("decodes a chunked body written in pieces", () =>
    Effect.gen(function*() {
      const port = yield* httpServer((_req, res) => {
        res.write("first ")
        setTimeout(() => res.write("second "), 20)
        setTimeout(() => res.end("third"), 40)
      })
      expect(yield* fetch(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, length: undefined, body: "first second third" })
    }))

  it.scopedLive("decodes a chunked body whose sizes, data and CRLFs are cut across writes", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) =>
        writeApart(socket, [
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1",
          "2\r",
          "\nhello, wor",
          "ld again\r",
          "\n",
          "3;ext=1\r\n!!!",
          "\r\n0\r\nX-Trailer: yes",
          "\r\n\r\n"
        ])
      )
      expect(yield* fetch(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, body: "hello, world again!!!" })
    }))

  it.scopedLive("reads until the server closes when the length is not given", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => writeApart(socket, ["HTTP/1.0 200 OK\r\n\r\n", "until ", "close"]))
      expect(yield* fetch(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, length: undefined, body: "until close" })
    }))

  it.scopedLive("parses a response written one byte at a time", () =>
    Effect.gen(function*() {
      const response = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Slow: yes\r\n\r\nbyte${i}by1"
      const port = yield* rawServer((socket) => writeApart(socket, [...response], 1))
      const result = yield* fetch(`http://127.0.0.1:${port}/`)
      expect(result).toMatchObject({ status: 200, body: "byte${i}by1" })
      expect("head" in result && header(result.head, "x-slow")).toBe("yes")
    }))

  it.scopedLive("fails with a truncation when the server closes before Content-Length bytes", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => writeApart(socket, ["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "0123456789"]))
      expect(yield* fetch(`http://127.0.0.1:${port}/`)).toEqual({
        error: "HttpBodyError",
        message: "the body was truncated after 10 of 100 bytes: the connection closed early; try again"
      })
    }))

  it.scopedLive("skips informational heads such as 103 Early Hints", () =>
    Effect.gen(function*() {
      const port = yield* httpServer((_req, res) => {
        res.writeEarlyHints({ link: "</style.css>; rel=preload" })
        res.end("after hints")
      })
      expect(yield* fetch(`http://127.0.0.1:${port}/`)).toMatchObject({ status: 200, body: "after hints" })
    }))

  describe("interim (1xx) heads", () => {
    const interimServer = (count: number) =>
      rawServer((socket) => {
        socket.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n".repeat(count))
        socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
      })

    it.scopedLive("takes up to 100, and fails on more, saying why", () =>
      Effect.gen(function*() {
        expect(yield* fetch(`http://127.0.0.1:${yield* interimServer(100)}/`)).toMatchObject({ status: 200, body: "ok" })
        expect(yield* fetch(`http://127.0.0.1:${yield* interimServer(101)}/`)).toEqual({
          error: "HttpResponseError",
          message: "more than 100 interim (1xx) responses before the final one; the server is misbehaving"
        })
        expect(yield* fetch(`http://127.0.0.1:${yield* interimServer(3)}/`, { maxInterimResponses: 2 })).toMatchObject({
          error: "HttpResponseError"
        })
      }))

    it.scopedLive.skipIf(gc === undefined)("cost constant memory: 20,000 of them leave nothing held", () =>
      Effect.gen(function*() {
        const port = yield* interimServer(20_000)
        // Once first, so that what is loaded once (modules, a TCP client) is not counted.
        expect(yield* fetch(`http://127.0.0.1:${port}/`, { maxInterimResponses: 20_000 })).toMatchObject({ status: 200, body: "ok" })
        const before = heapUsed()
        const response = yield* HttpGet.get(`http://127.0.0.1:${port}/`, { maxInterimResponses: 20_000 })
        // The final head is in, the body not yet read: whatever the interim heads left is still held.
        const after = heapUsed()
        expect(response.head.status).toBe(200)
        expect(after - before, `heap ${(before / MB).toFixed(1)} -> ${(after / MB).toFixed(1)} MB`).toBeLessThan(4 * MB)
      }))
  })

  describe("user info in the URL", () => {
    /** A server that answers with the Authorization header it got (or "none"), and redirects /away to `away`. */
    const authServer = (away: () => string) =>
      httpServer((req, res) => {
        if (req.url === "/away") return void res.writeHead(302, { Location: away() }).end()
        if (req.url === "/here") return void res.writeHead(302, { Location: "/echo" }).end()
        res.end(req.headers.authorization ?? "none")
      })

    it.scopedLive("is sent as Basic credentials", () =>
      Effect.gen(function*() {
        const port = yield* authServer(() => "/echo")
        expect(yield* fetch(`http://user:secret@127.0.0.1:${port}/echo`)).toMatchObject({ status: 200, body: "Basic dXNlcjpzZWNyZXQ=" })
      }))

    it.scopedLive("follows a redirect on the same origin, and is dropped on a redirect to another host", () =>
      Effect.gen(function*() {
        const other = yield* authServer(() => "/echo")
        const port = yield* authServer(() => `http://localhost:${other}/echo`)
        expect(yield* fetch(`http://user:secret@127.0.0.1:${port}/here`, { follow: true })).toMatchObject({
          url: `http://127.0.0.1:${port}/echo`,
          body: "Basic dXNlcjpzZWNyZXQ="
        })
        expect(yield* fetch(`http://user:secret@127.0.0.1:${port}/away`, { follow: true })).toMatchObject({
          url: `http://localhost:${other}/echo`,
          body: "none"
        })
      }))

    it.scopedLive("shows no password in the redirect error", () =>
      Effect.gen(function*() {
        const port = yield* authServer(() => "/here")
        const result = yield* fetch(`http://user:secret@127.0.0.1:${port}/here`, { follow: true, maxRedirects: 0 })
        expect(result).toEqual({
          error: "HttpRedirectError",
          message: `more than 0 redirects (the last one to http://user:***@127.0.0.1:${port}/echo); the server may be redirecting in a loop`
        })
      }))
  })

  describe("redirects", () => {
    const redirecting = (hops: number) =>
      httpServer((req, res) => {
        const n = Number(req.url!.slice(1))
        if (n >= hops) return void res.end(`arrived after ${n}`)
        res.writeHead(n % 2 === 0 ? 302 : 308, { Location: `${n + 1}` }).end("moved")
      })

    it.scopedLive("are not followed by default", () =>
      Effect.gen(function*() {
        const port = yield* redirecting(1)
        expect(yield* fetch(`http://127.0.0.1:${port}/0`)).toMatchObject({ status: 302, body: "moved" })
      }))

    it.scopedLive("are followed up to 5 times with follow, relative Locations resolved", () =>
      Effect.gen(function*() {
        const port = yield* redirecting(5)
        expect(yield* fetch(`http://127.0.0.1:${port}/0`, { follow: true })).toMatchObject({
          status: 200,
          url: `http://127.0.0.1:${port}/5`,
          body: "arrived after 5"
        })
      }))

    it.scopedLive("fail beyond the limit", () =>
      Effect.gen(function*() {
        const port = yield* redirecting(6)
        expect(yield* fetch(`http://127.0.0.1:${port}/0`, { follow: true })).toEqual({
          error: "HttpRedirectError",
          message: `more than 5 redirects (the last one to http://127.0.0.1:${port}/6); the server may be redirecting in a loop`
        })
      }))

    it.scopedLive("go from one server to another, http to https", () =>
      Effect.gen(function*() {
        const secure = yield* httpsServer((_req, res) => res.end("secure"))
        const port = yield* httpServer((_req, res) => res.writeHead(301, { Location: `https://localhost:${secure}/` }).end())
        expect(yield* fetch(`http://127.0.0.1:${port}/`, { follow: true, insecure: true })).toMatchObject({
          status: 200,
          url: `https://localhost:${secure}/`,
          body: "secure"
        })
      }))
  })

  describe("https", () => {
    it.scopedLive("refuses a self-signed certificate, with the reason Certificate", () =>
      Effect.gen(function*() {
        const port = yield* httpsServer((_req, res) => res.end("secret"))
        expect(yield* fetch(`https://127.0.0.1:${port}/`)).toEqual({
          error: "TcpConnectError",
          message:
            `cannot connect to 127.0.0.1:${port}: its TLS certificate is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`
        })
      }))

    it.scopedLive("accepts it with insecure", () =>
      Effect.gen(function*() {
        const port = yield* httpsServer((_req, res) => res.end("secret"))
        expect(yield* fetch(`https://127.0.0.1:${port}/`, { insecure: true })).toMatchObject({ status: 200, body: "secret" })
      }))

    it.scopedLive("says when the server does not speak TLS", () =>
      Effect.gen(function*() {
        const port = yield* httpServer((_req, res) => res.end("plain"))
        const result = yield* fetch(`https://127.0.0.1:${port}/`)
        expect(result).toMatchObject({ error: "TcpConnectError" })
        expect("message" in result && result.message).toMatch(
          new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: the TLS handshake failed: .+$`)
        )
      }))
  })

  describe("failures", () => {
    it.scopedLive("connection refused", () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        expect(yield* fetch(`http://127.0.0.1:${port}/`)).toEqual({
          error: "TcpConnectError",
          message: `cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED)`
        })
      }))

    it.scopedLive("a server that accepts and says nothing, within the timeout", () =>
      Effect.gen(function*() {
        const port = yield* silentServer()
        const started = Date.now()
        expect(yield* fetch(`http://127.0.0.1:${port}/`, { timeout: "300 millis" })).toEqual({
          error: "HttpTimeoutError",
          message: `127.0.0.1:${port} sent nothing for 0.3 s`
        })
        expect(Date.now() - started).toBeLessThan(2000)
      }))

    it.scopedLive("a server that stalls in the middle of the body", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        expect(yield* fetch(`http://127.0.0.1:${port}/`, { timeout: "300 millis" })).toMatchObject({ error: "HttpTimeoutError" })
      }))

    it.scopedLive("a server that does not speak HTTP", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
        expect(yield* fetch(`http://127.0.0.1:${port}/`)).toMatchObject({
          error: "HttpResponseError",
          message: 'malformed status line "SSH-2.0-OpenSSH_9.6" (expected HTTP/1.x CODE REASON); is it an HTTP server (https:// for a TLS port)?'
        })
      }))
  })

  describe("runBody", () => {
    // A block of the counting pattern (`byte i` is `i % 251`) that repeats it seamlessly.
    const block = Buffer.from(Array.from({ length: 251 * 256 }, (_, i) => i % 251))

    /** A server answering `total` bytes of the pattern, with a Content-Length, as fast as they are taken. */
    const patterned = (total: number) =>
      rawServer((socket) => {
        let sent = 0
        const pump = () => {
          while (sent < total) {
            const chunk = total - sent >= block.length ? block : block.subarray(0, total - sent)
            sent += chunk.length
            if (!socket.write(chunk)) return void socket.once("drain", pump)
          }
        }
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`)
        pump()
      })

    /** The offset of the first byte of `bytes` that breaks the pattern from `offset` on, or -1. */
    const mismatch = (bytes: Uint8Array, offset: number) => bytes.findIndex((byte, i) => byte !== (offset + i) % 251)

    it.scopedLive("lends each piece, intact until its Effect is done: the next read waits for it", () =>
      Effect.gen(function*() {
        const total = 16 * MB
        const port = yield* patterned(total)
        const response = yield* HttpGet.get(`http://127.0.0.1:${port}/`)
        const buffers = new Set<ArrayBufferLike>()
        let offset = 0
        let pieces = 0
        yield* response.runBody((piece) =>
          Effect.gen(function*() {
            buffers.add(piece.buffer)
            expect(mismatch(piece, offset)).toBe(-1)
            // The server goes on sending meanwhile.
            if (pieces++ % 8 === 0) yield* Effect.sleep("2 millis")
            expect(mismatch(piece, offset)).toBe(-1)
            offset += piece.length
          })
        )
        expect(offset).toBe(total)
        // The bytes after the head came with it, in the read that held the head; the rest are views of one buffer.
        expect(buffers.size).toBeLessThanOrEqual(2)
      }))

    it.scopedLive("allocates no buffer per read: 256 MiB leave the memory of ArrayBuffers as it was", () =>
      Effect.gen(function*() {
        const total = 256 * MB
        const port = yield* patterned(total)
        const response = yield* HttpGet.get(`http://127.0.0.1:${port}/`)
        const before = process.memoryUsage().arrayBuffers
        let peak = before
        let received = 0
        yield* response.runBody((piece) =>
          Effect.sync(() => {
            received += piece.length
            peak = Math.max(peak, process.memoryUsage().arrayBuffers)
          })
        )
        expect(received).toBe(total)
        // Node's own reads, a new 64 KiB buffer each, would pile up until a collection (tens of MB).
        expect((peak - before) / MB).toBeLessThan(8)
      }), 60_000)

    it.scopedLive("over https, where reads are not lent, gives the body all the same", () =>
      Effect.gen(function*() {
        const body = Buffer.alloc(3 * MB + 7, "y")
        const port = yield* httpsServer((_request, response) => response.end(body))
        const response = yield* HttpGet.get(`https://127.0.0.1:${port}/`, { insecure: true })
        const pieces: Array<Uint8Array> = []
        yield* response.runBody((piece) => Effect.sync(() => pieces.push(piece)))
        expect(Buffer.concat(pieces).equals(body)).toBe(true)
      }))
  })

  it.scopedLive("pulls the body from the socket only as it is consumed", () =>
    Effect.gen(function*() {
      let written = 0
      const port = yield* rawServer((socket) => {
        const block = Buffer.alloc(64 * 1024, "x")
        const pump = () => {
          while (written < 256 * 1024 * 1024) {
            written += block.length
            if (!socket.write(block)) return void socket.once("drain", pump)
          }
        }
        socket.write("HTTP/1.1 200 OK\r\n\r\n")
        pump()
      })
      const response = yield* HttpGet.get(`http://127.0.0.1:${port}/`)
      yield* Stream.runHead(response.body)
      yield* Effect.sleep("500 millis")
      // What the kernel's socket buffers hold, and a read or two: not the 256 MiB on offer.
      expect(written).toBeLessThan(32 * 1024 * 1024)
    }))
})
