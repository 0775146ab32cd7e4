// The PROXY protocol decoder behind the real senders: HAProxy (send-proxy, send-proxy-v2, with
// and without TLVs) and nginx's stream module (proxy_protocol on), each started by the test in
// front of plain node:net backends. Clients connect from several loopback addresses; each
// backend decodes the first bytes it receives and must find that client's address and port,
// and every byte the client sent after the header.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Queue } from "effect"
import * as Net from "node:net"
import { type TcpAddress, tcpAddress } from "../../src/address.js"
import { ProxyProtocolError } from "../../src/tcp/errors.js"
import { Decoder, type ProxyHeader } from "../../src/tcp/proxy-protocol.js"
import { haproxy, nginx } from "../helpers/balancers.js"
import { listen } from "../helpers/servers.js"

/** What a backend got on one connection, once the balancer closed it. */
interface Received {
  readonly backend: number
  readonly header: ProxyHeader | ProxyProtocolError | undefined
  /** Everything after the header, as latin1 text. */
  readonly after: string
}

/** A node:net backend that decodes each connection's header and collects the bytes after it. */
const backend = (received: Queue.Queue<Received>) =>
  Effect.gen(function*() {
    const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
      const decoder = new Decoder()
      let header: ProxyHeader | ProxyProtocolError | undefined
      const after: Array<Uint8Array> = []
      socket.on("data", (chunk: Buffer) => {
        if (header !== undefined) return void after.push(chunk)
        const result = decoder.push(chunk)
        if (result instanceof ProxyProtocolError) header = result
        else if (result !== undefined) {
          header = result.header
          after.push(result.rest)
        }
      })
      socket.on("end", () => socket.end())
      socket.on("error", () => {})
      socket.on("close", () => {
        Queue.unsafeOffer(received, { backend: port, header, after: Buffer.concat(after).toString("latin1") })
      })
    })
    const port = yield* listen(server)
    return tcpAddress("127.0.0.1", port)
  })

/** Connects to `to` from `from` (port chosen by the OS), sends `data`, half-closes, waits for the close; the address it used. */
const client = (to: TcpAddress, from: string, data: Uint8Array) =>
  Effect.async<TcpAddress, Error>((resume) => {
    const socket = Net.connect({ host: to.hostname, port: to.port, localAddress: from })
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("connect", () => {
      const local = tcpAddress(socket.localAddress!, socket.localPort!)
      socket.end(data)
      socket.resume()
      socket.on("close", () => resume(Effect.succeed(local)))
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeout(Duration.seconds(10)))

/** A payload that also carries bytes that look like headers: they must come through as data. */
const payload = (from: string, size = 0) =>
  Buffer.concat([
    Buffer.from(`Hello from ${from}\r\nPROXY TCP4 6.6.6.6 6.6.6.6 6 6\r\n\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c`, "latin1"),
    Buffer.alloc(size, 0xa5)
  ])

/** The loopback clients: two IPv4 source addresses besides 127.0.0.1, and IPv6. */
const clients = [
  { from: "127.0.0.2", to: "127.0.0.1" },
  { from: "127.0.0.3", to: "127.0.0.1" },
  { from: "127.0.0.1", to: "127.0.0.1" },
  { from: "::1", to: "::1" }
] as const

/**
 * Sends from each client through the balancer on `port`, one connection at a time, and checks
 * what a backend got: this client's address as the header's source, the balancer's address as
 * its destination, and the payload intact.
 */
const throughBalancer = (port: number, received: Queue.Queue<Received>, version: 1 | 2, size = 0) =>
  Effect.forEach(clients, ({ from, to }) =>
    Effect.gen(function*() {
      const data = payload(from, size)
      const source = yield* client(tcpAddress(to, port), from, data)
      const got = yield* Queue.take(received).pipe(Effect.timeout(Duration.seconds(10)))
      expect(got.header).toEqual({
        _tag: "Proxied",
        version,
        transport: "Stream",
        source,
        destination: tcpAddress(to, port)
      })
      expect(got.after.length).toBe(data.length)
      expect(got.after === data.toString("latin1")).toBe(true)
    }), { discard: true })

describe("behind HAProxy", () => {
  for (const [name, proxyProtocol, tlvs, version] of [
    ["send-proxy (v1)", "v1", false, 1],
    ["send-proxy-v2", "v2", false, 2],
    ["send-proxy-v2 with CRC32C and unique-id TLVs", "v2", true, 2]
  ] as const) {
    it.scopedLive(`decodes each client's address from ${name}`, () =>
      Effect.gen(function*() {
        const received = yield* Queue.unbounded<Received>()
        const server = yield* backend(received)
        const balancer = yield* haproxy([{ ...server, proxyProtocol, tlvs }])
        yield* throughBalancer(balancer.port, received, version)
        yield* throughBalancer(balancer.port, received, version, 256 * 1024)
      }))
  }

  it.scopedLive("round-robins over a send-proxy backend and a send-proxy-v2 one, each getting its version", () =>
    Effect.gen(function*() {
      const v1 = yield* Queue.unbounded<Received>()
      const v2 = yield* Queue.unbounded<Received>()
      const first = yield* backend(v1)
      const second = yield* backend(v2)
      const balancer = yield* haproxy([{ ...first, proxyProtocol: "v1" }, { ...second, proxyProtocol: "v2" }])
      const served: Array<number> = []
      for (const { from, to } of [...clients, ...clients]) {
        const source = yield* client(tcpAddress(to, balancer.port), from, payload(from))
        const got = yield* Effect.raceFirst(Queue.take(v1), Queue.take(v2)).pipe(Effect.timeout(Duration.seconds(10)))
        expect(got.header).toMatchObject({ _tag: "Proxied", version: got.backend === first.port ? 1 : 2, source })
        expect(got.after).toBe(payload(from).toString("latin1"))
        served.push(got.backend)
      }
      expect(served.filter((port) => port === first.port)).toHaveLength(clients.length)
      expect(served.filter((port) => port === second.port)).toHaveLength(clients.length)
    }))
})

describe("behind nginx (stream, proxy_protocol on)", () => {
  it.scopedLive("decodes each client's address from the v1 header", () =>
    Effect.gen(function*() {
      const received = yield* Queue.unbounded<Received>()
      const server = yield* backend(received)
      const balancer = yield* nginx([server])
      yield* throughBalancer(balancer.port, received, 1)
      yield* throughBalancer(balancer.port, received, 1, 256 * 1024)
    }))
})
