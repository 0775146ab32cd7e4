// `start:tcp --proxy-protocol` behind the real balancers, as the test's own processes: two
// effect-net instances behind HAProxy (one sent send-proxy-v2 and run with --workers 2, one
// send-proxy), and behind nginx's stream module (proxy_protocol on). Clients connect through the
// balancer from several loopback addresses; the servers' logs must name each client by its own
// address and port. A direct connection without a header is refused, as is a balancer that is not
// among --trusted-proxies.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import * as Net from "node:net"
import { formatAddress, type TcpAddress, tcpAddress } from "../../src/address.js"
import { haproxy, nginx } from "../helpers/balancers.js"
import { rejectsFlags } from "../helpers/cli.js"
import { sample, scrape } from "../helpers/http.js"
import * as Peer from "../helpers/peer.js"
import { startServer } from "../helpers/process.js"

type Server = Effect.Effect.Success<ReturnType<typeof startServer>>

/** Connects from `from`, is welcomed, greets `name`, leaves; the client's own address. */
const greet = (to: TcpAddress, from: string, name: string) =>
  Effect.async<TcpAddress, Error>((resume) => {
    const socket = Net.connect({ host: to.hostname, port: to.port, localAddress: from })
    let received = ""
    let local = 0
    socket.on("connect", () => (local = socket.localPort!))
    socket.setEncoding("latin1")
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("data", (chunk: string) => {
      received += chunk
      if (received === "Welcome!") socket.write(name)
      else if (received === `Welcome!Hello, ${name}!`) socket.end("exit")
    })
    socket.on("close", () => {
      if (received === `Welcome!Hello, ${name}!`) resume(Effect.succeed(tcpAddress(from, local)))
      else resume(Effect.fail(new Error(`${from}: received ${JSON.stringify(received)}`)))
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeout(Duration.seconds(10)))

/** The clients: loopback addresses besides 127.0.0.1, and IPv6; five, so that round robin over two backends sends each to both. */
const clients = [
  { from: "127.0.0.2", to: "127.0.0.1" },
  { from: "127.0.0.3", to: "127.0.0.1" },
  { from: "127.0.0.4", to: "127.0.0.1" },
  { from: "127.0.0.1", to: "127.0.0.1" },
  { from: "::1", to: "::1" }
] as const

/** The server whose log names `client` as the peer it accepted, and the worker that did if any. */
const servedBy = (servers: ReadonlyArray<Server>, client: TcpAddress) => {
  const line = `message="Accept new connection from ${formatAddress(client)}..."`
  return servers.flatMap((server, index) =>
    server.stderr().split("\n").filter((log) => log.includes(line)).map((log) => ({ index, worker: log.match(/ worker=(\d+)/)?.[1] }))
  )
}

/**
 * Greets through the balancer on `port` from each client, twice, and checks that exactly one of
 * `servers` logged each connection under the client's own address and port, and that both
 * served each client address.
 */
const throughBalancer = (port: number, servers: ReadonlyArray<Server>) =>
  Effect.gen(function*() {
    const served: Array<{ readonly from: string; readonly index: number; readonly worker: string | undefined }> = []
    for (const [round, { from, to }] of [...clients, ...clients].entries()) {
      const client = yield* greet(tcpAddress(to, port), from, `client${round}`)
      const logged = yield* Effect.suspend(() => {
        const logged = servedBy(servers, client)
        return logged.length > 0 ? Effect.succeed(logged) : Effect.fail(`${formatAddress(client)} is in no server's log`)
      }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 }))
      expect(logged).toHaveLength(1)
      served.push({ from, ...logged[0]! })
    }
    for (const { from } of clients) {
      expect(new Set(served.filter((entry) => entry.from === from).map((entry) => entry.index))).toEqual(new Set([0, 1]))
    }
    return served
  })

/** A connection straight to `server`, with no header: closed without a welcome, and logged. */
const refusedDirectly = (server: Server) =>
  Effect.gen(function*() {
    const peer = yield* Peer.connect(server.port)
    yield* peer.write("Ada")
    expect(yield* peer.closed()).toBe("")
    yield* server.waitForStderr(new RegExp(
      `level=WARN [^\\n]*message="refused 127\\.0\\.0\\.1:${peer.socket.localPort}: no valid PROXY protocol header: the connection does not start with PROXY or the v2 signature" peer=127\\.0\\.0\\.1:${peer.socket.localPort}`
    ))
  }).pipe(Effect.scoped)

const proxied = (...flags: ReadonlyArray<string>) =>
  startServer("start:tcp", ["--port", "0", "--delay", "0", "--proxy-protocol", ...flags])

describe("start:tcp --proxy-protocol behind a real balancer", () => {
  it.scopedLive("HAProxy: send-proxy-v2 to two workers, send-proxy to another instance; each client named in the logs", () =>
    Effect.gen(function*() {
      const clustered = yield* proxied("--workers", "2", "--metrics-port", "0")
      for (const worker of [1, 2]) yield* clustered.waitForStderr(new RegExp(`message="worker ${worker} started`))
      const single = yield* proxied()
      const balancer = yield* haproxy([
        { ...tcpAddress("127.0.0.1", clustered.port), proxyProtocol: "v2" },
        { ...tcpAddress("127.0.0.1", single.port), proxyProtocol: "v1" }
      ])
      const served = yield* throughBalancer(balancer.port, [clustered, single])
      expect(new Set(served.filter((entry) => entry.index === 0).map((entry) => entry.worker))).toEqual(new Set(["1", "2"]))
      yield* refusedDirectly(clustered)
      yield* refusedDirectly(single)
      const metrics = yield* scrape(clustered)
      expect(sample(metrics, "effect_net_tcp_connections_accepted_total")).toBe(clients.length)
      expect(metrics).toMatch(/^effect_net_tcp_proxy_rejected_total\{reason="not_proxy_protocol"\} 1$/m)
      for (const server of [clustered, single]) {
        server.child.kill("SIGTERM")
        expect(yield* server.exited).toBe(0)
      }
    }))

  it.scopedLive("nginx stream with proxy_protocol on, in front of two instances: each client named in the logs", () =>
    Effect.gen(function*() {
      const servers = [yield* proxied(), yield* proxied()]
      const balancer = yield* nginx(servers.map((server) => (tcpAddress("127.0.0.1", server.port))))
      yield* throughBalancer(balancer.port, servers)
      for (const server of servers) yield* refusedDirectly(server)
    }))

  it.scopedLive("a balancer not among --trusted-proxies is refused, its header unread", () =>
    Effect.gen(function*() {
      const server = yield* proxied("--trusted-proxies", "10.0.0.0/8, fd00::/8")
      const balancer = yield* haproxy([{ ...tcpAddress("127.0.0.1", server.port), proxyProtocol: "v1" }])
      const result = yield* Effect.either(greet(tcpAddress("127.0.0.1", balancer.port), "127.0.0.2", "Ada"))
      expect(result._tag).toBe("Left")
      yield* server.waitForStderr(
        /level=WARN [^\n]*message="refused 127\.0\.0\.1:\d+: not a trusted proxy, so it may not send a PROXY protocol header"/
      )
      expect(server.stderr()).not.toMatch(/Accept new connection/)
    }))
})

rejectsFlags("start:tcp", [
  [["--trusted-proxies", "127.0.0.1"], "--trusted-proxies needs --proxy-protocol"],
  [
    ["--proxy-protocol", "--trusted-proxies", "10.0.0.0/33"],
    "--trusted-proxies: invalid address block \"10.0.0.0/33\"; expected ADDRESS or ADDRESS/PREFIX, such as 10.0.0.0/8 or ::1/128"
  ],
  [
    ["--proxy-protocol", "--trusted-proxies", "10.0.0.0/8,,::1"],
    "--trusted-proxies: invalid address block \"\"; expected ADDRESS or ADDRESS/PREFIX, such as 10.0.0.0/8 or ::1/128"
  ]
])
