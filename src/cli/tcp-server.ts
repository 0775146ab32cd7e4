/**
 * `effect-net tcp-server` (`pnpm start:tcp`): the greeting server on TCP.
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { formatAddress } from "../address.js"
import * as Greeting from "../greeting/protocol.js"
import * as TcpGreetingServer from "../greeting/tcp-server.js"
import * as TcpListener from "../tcp/listener.js"
import * as TcpServer from "../tcp/server.js"
import { metricsPort } from "./metrics.js"
import * as Cli from "./options.js"
import * as Workers from "./workers.js"

export const command = Command.make("tcp-server", {
  host: Cli.host(TcpListener.defaults.host),
  port: Cli.port("Port to listen on; 0 picks a free one", Greeting.defaultPort),
  delay: Cli.seconds("delay", "Seconds to wait before each reply, as the tutorial", TcpGreetingServer.defaults.delay),
  framing: Cli.framing(TcpGreetingServer.defaults.framing),
  maxLineBytes: Cli.count("max-line-bytes", "Longest line accepted with --framing line", TcpGreetingServer.defaults.maxLineBytes),
  lineTimeout: Cli.seconds("line-timeout", "With --framing line, close a connection whose line is not complete this many seconds after its first byte; 0 never does", TcpGreetingServer.defaults.lineTimeout),
  maxConnections: Cli.count("max-connections", "Connections served at once; more get 'Error: server busy'", TcpServer.defaults.maxConnections),
  queueWhenFull: Options.boolean("queue-when-full").pipe(
    Options.withDescription("At --max-connections, keep new connections waiting for a free slot instead of refusing them.")
  ),
  idleTimeout: Cli.seconds("idle-timeout", "Close a connection that sends nothing for this many seconds; 0 never does", TcpListener.defaults.idleTimeout),
  writeTimeout: Cli.seconds("write-timeout", "Cut off a client that does not read our replies for this many seconds; 0 never does", TcpListener.defaults.writeTimeout),
  shutdownGrace: Cli.seconds("shutdown-grace", "On SIGINT/SIGTERM/SIGHUP, seconds to let connections finish before closing them", TcpServer.defaults.shutdownGrace),
  proxyProtocol: Cli.proxyProtocol,
  workers: Cli.workers,
  metricsPort
}, ({ host, idleTimeout, metricsPort, port, proxyProtocol, workers, writeTimeout, ...options }) =>
  Workers.serve(workers, { host, port: metricsPort }, (serving) =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ host, port: serving.port(port), idleTimeout, writeTimeout, proxyProtocol })
      yield* serving.listening(`tcp://${formatAddress(listener.address)}`, listener.address.port)
      return yield* TcpGreetingServer.serve({ ...options, forceShutdown: serving.forceShutdown }).pipe(
        Effect.provideService(TcpListener.TcpListener, listener)
      )
    }))).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on TCP: Welcome!, then Hello, <message>! per message until exit.")
  )
