/**
 * Real L4 load balancers for tests: Debian's HAProxy and nginx (stream module), started as the
 * test's own processes with a generated config in a temporary directory, listening on one free
 * port on both 127.0.0.1 and ::1, in front of given backends, sending the PROXY protocol; and
 * nginx as a plain HTTP file server, the same way. The scope stops them. `.ci/run` installs them
 * (haproxy, nginx, libnginx-mod-stream).
 */
import { Duration, Effect, Schedule, type Scope } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { formatAddress, type TcpAddress } from "../../src/address.js"
import { freePort, ProcessError, scratch, start } from "./process.js"

export const haproxyBinary = "/usr/sbin/haproxy"
export const nginxBinary = "/usr/sbin/nginx"
export const nginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

export interface Balancer {
  /** The port clients connect to, on 127.0.0.1 and on ::1. */
  readonly port: number
  /** What the balancer logged so far (its stderr). */
  readonly log: () => string
}

/** A backend HAProxy relays to, and the PROXY protocol version it sends it (`send-proxy` or `send-proxy-v2`). */
export interface HaproxyBackend extends TcpAddress {
  readonly proxyProtocol: "v1" | "v2"
  /** v2 only: add a CRC32C and a unique-id TLV to the header (`proxy-v2-options crc32c,unique-id`). */
  readonly tlvs?: boolean
}

/** HAProxy in TCP mode, round robin over `backends`; logs each connection to stderr. */
export const haproxyConfig = (port: number, backends: ReadonlyArray<HaproxyBackend>): string =>
  [
    "global",
    "  log stderr format raw local0 info",
    "  maxconn 1024",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
    "frontend clients",
    `  bind 127.0.0.1:${port}`,
    `  bind [::1]:${port}`,
    // The unique id a `unique-id` TLV carries.
    "  unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid",
    "  default_backend servers",
    "backend servers",
    "  balance roundrobin",
    ...backends.map((backend, i) =>
      `  server s${i + 1} ${formatAddress(backend)} ${backend.proxyProtocol === "v1" ? "send-proxy" : "send-proxy-v2"}${
        backend.tlvs === true ? " proxy-v2-options crc32c,unique-id" : ""
      }`
    ),
    ""
  ].join("\n")

/** An nginx runnable by anyone: no daemon, no master, its pid file in `dir`, its log on stderr. */
const nginxProcess = (dir: string): Array<string> => [
  "daemon off;",
  "master_process off;",
  "worker_processes 1;",
  `pid ${Path.join(dir, "nginx.pid")};`,
  "error_log stderr info;",
  "events { worker_connections 1024; }"
]

/**
 * nginx's stream module with `proxy_protocol on` (it sends v1, the only version nginx sends),
 * round robin over `backends`, runnable by anyone: no daemon, no master, pid and logs in `dir`.
 */
export const nginxConfig = (dir: string, port: number, backends: ReadonlyArray<TcpAddress>): string =>
  [
    `load_module ${nginxStreamModule};`,
    ...nginxProcess(dir),
    "stream {",
    "  upstream servers {",
    ...backends.map((backend) => `    server ${formatAddress(backend)};`),
    "  }",
    "  server {",
    `    listen 127.0.0.1:${port};`,
    `    listen [::1]:${port};`,
    "    proxy_pass servers;",
    "    proxy_protocol on;",
    "  }",
    "}",
    ""
  ].join("\n")

/** nginx serving the files below `root` over HTTP, its temporary files in `dir`. */
const nginxFilesConfig = (dir: string, port: number, root: string): string =>
  [
    ...nginxProcess(dir),
    "http {",
    "  access_log off;",
    "  default_type application/octet-stream;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((temp) => `  ${temp}_temp_path ${Path.join(dir, temp)};`),
    "  server {",
    `    listen 127.0.0.1:${port};`,
    `    listen [::1]:${port};`,
    `    root ${root};`,
    "  }",
    "}",
    ""
  ].join("\n")

/** How many sockets listen on `port` (TCP over IPv4 and IPv6), from /proc: no connection needed to see it. */
const listeners = (port: number): number => {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  let count = 0
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const [, address, , state] = line.trim().split(/\s+/)
      if (address?.endsWith(local) && state === "0A") count++
    }
  }
  return count
}

const missing = (file: string) =>
  new ProcessError({ message: `${file} is missing: apt-get install -y haproxy nginx libnginx-mod-stream (as .ci/run does)` })

/**
 * Writes the config for a free port into a temporary directory of its own, starts the balancer
 * and waits until it listens on 127.0.0.1 and ::1. A port taken meanwhile by someone else makes
 * it exit: then it starts again on another port.
 */
const launch = (
  name: string,
  binary: string,
  command: (dir: string, port: number) => { readonly config: string; readonly args: ReadonlyArray<string> }
): Effect.Effect<Balancer, ProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    if (!existsSync(binary)) return yield* Effect.fail(missing(binary))
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(Path.join(scratch, `${name}-`))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const port = yield* freePort()
    const { args, config } = command(dir, port)
    writeFileSync(Path.join(dir, `${name}.conf`), config)
    const balancer = yield* start([binary, ...args], { cwd: dir })
    const failed = () =>
      new ProcessError({ message: `${name} did not listen on port ${port}:\n${balancer.stderr()}\nconfig:\n${config}` })
    yield* Effect.suspend(() => {
      if (balancer.child.exitCode !== null || balancer.child.signalCode !== null) return Effect.fail(failed())
      return listeners(port) >= 2 ? Effect.void : Effect.fail(undefined)
    }).pipe(
      Effect.retry({ schedule: Schedule.spaced("20 millis"), while: (error) => error === undefined }),
      Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: failed }),
      Effect.mapError((error) => error ?? failed()),
      Effect.tapError(() => Effect.sync(() => balancer.child.kill("SIGKILL")))
    )
    return { port, log: balancer.stderr }
  }).pipe(Effect.retry({ times: 2 }))

/** HAProxy (`haproxy -db -f CONFIG`) in front of `backends`, each with its PROXY protocol version. */
export const haproxy = (backends: ReadonlyArray<HaproxyBackend>) =>
  launch("haproxy", haproxyBinary, (dir, port) => ({
    config: haproxyConfig(port, backends),
    args: ["-db", "-f", Path.join(dir, "haproxy.conf")]
  }))

const nginxArgs = (dir: string) => ["-e", "stderr", "-p", `${dir}/`, "-c", Path.join(dir, "nginx.conf")]

/** nginx (`nginx -e stderr -p DIR -c CONFIG`) in front of `backends`, with `proxy_protocol on`. */
export const nginx = (backends: ReadonlyArray<TcpAddress>) =>
  Effect.gen(function*() {
    if (!existsSync(nginxStreamModule)) return yield* Effect.fail(missing(nginxStreamModule))
    return yield* launch("nginx", nginxBinary, (dir, port) => ({
      config: nginxConfig(dir, port, backends),
      args: nginxArgs(dir)
    }))
  })

/** nginx serving the files below `root` over HTTP (`http://127.0.0.1:PORT/NAME`). */
export const nginxFiles = (root: string) =>
  launch("nginx", nginxBinary, (dir, port) => ({ config: nginxFilesConfig(dir, port, root), args: nginxArgs(dir) }))
