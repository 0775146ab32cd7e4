/**
 * `pnpm start:tcp`: the greeting server on TCP.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { formatAddress } from "../address.js"
import { defaultMaxLineBytes } from "../protocol/framing.js"
import * as GreetingServer from "../tcp/greeting-server.js"
import * as TcpListener from "../tcp/listener.js"
import { ForceShutdown, run } from "./main.js"
import { metricsPort, serveMetrics } from "./metrics.js"
import * as Cli from "./options.js"

const command = Command.make("start:tcp", {
  host: Cli.host(),
  port: Cli.port("Port to listen on; 0 picks a free one"),
  delay: Cli.seconds("delay", "Seconds to wait before each reply, as the tutorial", 1),
  framing: Cli.framing,
  maxLineBytes: Cli.count("max-line-bytes", "Longest line accepted with --framing line", defaultMaxLineBytes),
  maxConnections: Cli.count("max-connections", "Connections served at once; more get 'Error: server busy'", 10_000),
  queueWhenFull: Options.boolean("queue-when-full").pipe(
    Options.withDescription("At --max-connections, keep new connections waiting for a free slot instead of refusing them.")
  ),
  idleTimeout: Cli.seconds("idle-timeout", "Close a connection that sends nothing for this many seconds; 0 never does", 300),
  writeTimeout: Cli.seconds("write-timeout", "Cut off a client that does not read our replies for this many seconds; 0 never does", 30),
  shutdownGrace: Cli.seconds("shutdown-grace", "On SIGINT/SIGTERM, seconds to let connections finish before closing them", 5),
  metricsPort
}, ({ host, port, idleTimeout, writeTimeout, metricsPort, ...options }) =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make({ host, port, idleTimeout, writeTimeout })
    yield* Console.log(`listening on tcp://${formatAddress(listener.address)}`)
    const forceShutdown = yield* ForceShutdown
    yield* serveMetrics(host, metricsPort)
    return yield* GreetingServer.serve({ ...options, forceShutdown }).pipe(
      Effect.provideService(TcpListener.TcpListener, listener)
    )
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on TCP: Welcome!, then Hello, <message>! per message until exit.")
  )

run(command)
