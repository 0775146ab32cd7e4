/**
 * The servers and clients the benchmark compares, each started in a process of its own. Where
 * `taskset` is at hand, servers run on CPU 0 and load generators and clients on CPU 1, so that
 * they do not take turns on one core.
 */
import { Effect, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import { freePort, type Running, start } from "./process.js"

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-c", "0", "true"])
    return true
  } catch {
    return false
  }
})()

/** `command` pinned to one CPU (or a list: `0,1`), when the machine can. */
export const pinned = (cpu: number | string, command: ReadonlyArray<string>): ReadonlyArray<string> =>
  hasTaskset ? ["taskset", "-c", String(cpu), ...command] : command

export interface Server {
  readonly name: string
  /** Starts it; resolves once it listens, with its port. */
  readonly start: Effect.Effect<Running & { readonly port: number }, unknown, Scope.Scope>
}

// Paths are relative to the repository's root, where `pnpm bench` runs.
const node = process.execPath
const tutorial = (program: string) => `test/fixtures/tutorial/${program}`

/** A server that prints `listening on PROTO://HOST:PORT` once bound (port 0 asked). */
const listening = (name: string, command: ReadonlyArray<string>, cpus: number | string = 0): Server => ({
  name,
  start: Effect.gen(function*() {
    const running = yield* start(pinned(cpus, command))
    const [, port] = yield* running.waitFor(/^listening on \w+:\/\/[^\s]*:(\d+)$/m)
    return { ...running, port: Number(port) }
  })
})

/** A tutorial program: bound to a port we chose, ready once it prints `ready`. */
const tutorialServer = (name: string, kind: "tcp" | "udp", program: string, args: ReadonlyArray<string>, ready: RegExp): Server => ({
  name,
  start: Effect.gen(function*() {
    const port = yield* freePort(kind)
    const running = yield* start(pinned(0, ["python3", tutorial(program), String(port), ...args]))
    yield* running.waitFor(ready)
    return { ...running, port }
  })
})

// Logs off in the project's servers: the baselines do not log either.
const quiet = ["--log-level", "warning"]

export const tcpProject = (framing: "raw" | "line") =>
  listening(`effect-net ${framing}`, [node, "dist/bin/effect-net.js", "tcp-server", "--port", "0", "--delay", "0", "--framing", framing, ...quiet])
/** With its info logs (a line per accept and per close) on stderr, which the harness reads. */
export const tcpProjectLogging = listening("effect-net raw, info logs", [node, "dist/bin/effect-net.js", "tcp-server", "--port", "0", "--delay", "0"])
/**
 * With `--workers 2` on the given CPUs (the primary and its workers inherit the pinning): `0,1`
 * shares CPU 1 with the load generator (the machine has 2 cores), `0` shows what the cluster
 * costs with no core to gain.
 */
export const tcpProjectWorkers = (cpus: "0,1" | "0") =>
  listening(
    `effect-net raw, 2 workers (CPU ${cpus === "0" ? "0" : "0-1"})`,
    [node, "dist/bin/effect-net.js", "tcp-server", "--port", "0", "--delay", "0", "--workers", "2", ...quiet],
    cpus
  )
export const tcpRaw = listening("node:net (baseline 1)", [node, "dist/bench/baselines/tcp-raw.js", "0"])
export const tcpFiber = listening("bare fiber (floor)", [node, "dist/bench/baselines/tcp-fiber.js", "0"])
export const tcpPlatform = listening("@effect/platform (baseline 2)", [node, "dist/bench/baselines/tcp-platform.js", "0"])
/** The lp ping-pong case: the greeting in length-prefixed frames (`harness/length-prefixed.ts`). */
export const lpRaw = listening("node:net (baseline 1)", [node, "dist/bench/baselines/lp-raw.js", "0"])
export const lpFiber = listening("bare fiber (floor)", [node, "dist/bench/baselines/lp-fiber.js", "0"])
export const lpProject = listening("effect-net lengthPrefixed", [node, "dist/bench/servers/lp-effect-net.js", "0"])
/** The TLS case: the test certificate (self-signed, the load generator accepts it). */
const certificate = ["test/fixtures/tls/cert.pem", "test/fixtures/tls/key.pem"] as const
export const tlsProject = listening("effect-net raw, TLS", [
  node, "dist/bin/effect-net.js", "tcp-server", "--port", "0", "--delay", "0", "--tls-cert", certificate[0], "--tls-key", certificate[1], ...quiet
])
export const tlsRaw = listening("node:tls (baseline 1)", [node, "dist/bench/baselines/tls-raw.js", "0", ...certificate])
export const tcpPython = tutorialServer("tcp_server.py (baseline 3)", "tcp", "tcp_server.py", ["0"], /Waiting for connection/)

export const udpProject = listening("effect-net", [node, "dist/bin/effect-net.js", "udp-server", "--port", "0", ...quiet])
export const udpRaw = listening("raw node:dgram (baseline)", [node, "dist/bench/baselines/udp-raw.js", "0"])
export const udpPython = tutorialServer("udp_server.py", "udp", "udp_server.py", [], /Bind UDP on/)

/** The HTTP benchmark's source of a body of `bytes` bytes. */
export const httpSource = (bytes: number) => listening("http source", [node, "dist/bench/load/http-source.js", String(bytes)])

/** An HTTP client that downloads `url` to /dev/null. */
export interface HttpClient {
  readonly name: string
  readonly command: (url: URL) => ReadonlyArray<string>
}

export const httpClients: ReadonlyArray<HttpClient> = [
  { name: "curl", command: (url) => ["curl", "-s", "-o", "/dev/null", url.href] },
  { name: "effect-net http:get", command: (url) => [node, "dist/bin/effect-net.js", "http-get", url.href, "-o", "/dev/null"] },
  {
    name: "http_get.py",
    command: (url) => ["python3", tutorial("http_get.py"), url.hostname, url.port, url.pathname, "/dev/null"]
  }
]
