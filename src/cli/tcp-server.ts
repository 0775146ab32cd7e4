/**
 * `effect-net tcp-server` (`pnpm start:tcp`): the greeting server on TCP, in TLS with
 * `--tls-cert` and `--tls-key`, on a Unix domain socket with `--unix`.
 */
import { Command, Options } from "@effect/cli"
import { Context, Effect, Option } from "effect"
import { formatAddress } from "../address.js"
import * as Greeting from "../greeting/protocol.js"
import * as TcpGreetingServer from "../greeting/tcp-server.js"
import * as TcpListener from "../tcp/listener.js"
import * as TcpServer from "../tcp/server.js"
import type { TcpListenerTlsOptions } from "../tcp/tls.js"
import { metricsPort } from "./metrics.js"
import * as Cli from "./options.js"
import * as Workers from "./workers.js"

const script = "start:tcp"

const file = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

/** `--unix-mode 660`: octal permissions, without the bits that mean nothing on a socket. */
const unixMode = Options.text("unix-mode").pipe(
  Options.withDescription("Permissions of the --unix socket file, in octal, 0 to 777, such as 660 (default: what the umask leaves)."),
  Options.optional,
  Options.mapEffect((mode) => {
    if (Option.isNone(mode)) return Effect.succeed(Option.none())
    if (!/^[0-7]{1,4}$/.test(mode.value)) return Cli.invalid(`--unix-mode must be octal permissions such as 660, got ${mode.value}`)
    const bits = parseInt(mode.value, 8)
    return bits <= 0o777
      ? Effect.succeed(Option.some(bits))
      : Cli.invalid(
        `--unix-mode takes permissions only, 0 to 777 (set-user-ID, set-group-ID and sticky bits mean nothing on a socket), got ${mode.value}`
      )
  })
)

/** The TLS options of `--tls-cert`, `--tls-key` and `--tls-ca`, their files read; none without them. */
const tlsOptions = (cert: Option.Option<string>, key: Option.Option<string>, ca: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isSome(cert) !== Option.isSome(key)) return yield* Cli.invalid("--tls-cert and --tls-key go together")
    if (Option.isNone(cert) || Option.isNone(key)) {
      return Option.isSome(ca) ? yield* Cli.invalid("--tls-ca needs --tls-cert and --tls-key") : undefined
    }
    const options: TcpListenerTlsOptions = {
      cert: yield* Cli.readFlagFile(script, "--tls-cert", cert.value),
      key: yield* Cli.readFlagFile(script, "--tls-key", key.value)
    }
    if (Option.isNone(ca)) return options
    return { ...options, ca: yield* Cli.readFlagFile(script, "--tls-ca", ca.value), requestCert: true }
  })

export const command = Command.make("tcp-server", {
  host: Cli.host(TcpListener.defaults.host),
  port: Cli.port("Port to listen on; 0 picks a free one", Greeting.defaultPort),
  delay: Cli.seconds("delay", "Seconds to wait before each reply, as the tutorial", TcpGreetingServer.defaults.delay),
  framing: Cli.framing(TcpGreetingServer.defaults.framing),
  maxLineBytes: Cli.count("max-line-bytes", "Longest line accepted with --framing line", TcpGreetingServer.defaults.maxLineBytes),
  lineTimeout: Cli.seconds("line-timeout", "With --framing line, close a connection whose line is not complete this many seconds after its first byte; 0 never does", TcpGreetingServer.defaults.lineTimeout),
  maxConnections: Cli.count(
    "max-connections",
    `Connections served at once; more get 'Error: server busy'. Connections in their TLS handshake or awaiting their PROXY header have a limit of their own: this, at most ${TcpListener.defaults.maxPending}; more are closed at once`,
    TcpServer.defaults.maxConnections
  ),
  queueWhenFull: Options.boolean("queue-when-full").pipe(
    Options.withDescription("At --max-connections, keep up to as many new connections waiting for a free slot instead of refusing them.")
  ),
  idleTimeout: Cli.seconds("idle-timeout", "Close a connection on which nothing was sent or received for this many seconds (a connection that is writing is not idle); 0 never does", TcpListener.defaults.idleTimeout),
  writeTimeout: Cli.seconds("write-timeout", "Cut off a client that does not read our replies for this many seconds; 0 never does", TcpListener.defaults.writeTimeout),
  shutdownGrace: Cli.shutdownGrace("connections finish before closing them", TcpServer.defaults.shutdownGrace),
  tlsCert: file("tls-cert", "Speak TLS with the certificate in this file (PEM: the certificate, then any intermediates); needs --tls-key."),
  tlsKey: file("tls-key", "The private key of --tls-cert, in this file (PEM, unencrypted)."),
  tlsCa: file("tls-ca", "Ask each client for a certificate, and accept only those signed by a CA in this file (PEM)."),
  unix: Cli.unix("Listen on a Unix domain socket at this path instead of --host and --port; a socket file left by a crashed run is replaced, and the file is removed on exit."),
  unixMode,
  proxyProtocol: Cli.proxyProtocol,
  cluster: Cli.cluster,
  metricsPort
}, ({ cluster, host, idleTimeout, metricsPort, port, proxyProtocol, tlsCa, tlsCert, tlsKey, unix, unixMode, writeTimeout, ...options }) =>
  Workers.serve(cluster, { host, port: metricsPort }, (serving) =>
    Effect.gen(function*() {
      if (Option.isSome(unixMode) && Option.isNone(unix)) return yield* Cli.invalid("--unix-mode needs --unix")
      const tls = yield* tlsOptions(tlsCert, tlsKey, tlsCa)
      if (tls !== undefined && proxyProtocol !== undefined) {
        return yield* Cli.invalid("--proxy-protocol and --tls-cert do not go together: terminate TLS at the balancer")
      }
      const path = Option.getOrUndefined(Option.map(unix, (path) => Cli.userPath(script, path)))
      const listener = yield* TcpListener.make({
        host,
        port: serving.port(port),
        idleTimeout,
        writeTimeout,
        tls,
        path,
        mode: Option.getOrUndefined(unixMode),
        proxyProtocol,
        maxPending: Math.min(TcpListener.defaults.maxPending, options.maxConnections)
      })
      const { address } = listener
      yield* serving.listening(
        address._tag === "UnixAddress"
          ? `unix:${address.path}${tls === undefined ? "" : " (TLS)"}`
          : `${tls === undefined ? "tcp" : "tls"}://${formatAddress(address)}`,
        address._tag === "UnixAddress" ? 0 : address.port
      )
      // Its context and nothing else: each connection's fiber gets a copy of it.
      return yield* TcpGreetingServer.serve({ ...options, forceShutdown: serving.forceShutdown }).pipe(
        Effect.mapInputContext((_: Context.Context<never>) => Context.make(TcpListener.TcpListener, listener))
      )
    }))).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on TCP: Welcome!, then Hello, <message>! per message until exit.")
  )
