/**
 * `effect-net udp-server` (`pnpm start:udp`): the greeting server on UDP.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { formatAddress } from "../address.js"
import * as Greeting from "../greeting/protocol.js"
import * as UdpGreetingServer from "../greeting/udp-server.js"
import * as UdpSocket from "../udp/socket.js"
import { metricsPort, serveMetrics } from "./metrics.js"
import * as Cli from "./options.js"
import { ForceShutdown } from "./runner.js"

export const command = Command.make("udp-server", {
  host: Cli.host(UdpSocket.defaults.host),
  port: Cli.port("Port to listen on; 0 picks a free one", Greeting.defaultPort),
  delay: Cli.seconds("delay", "Seconds to wait before each reply", UdpGreetingServer.defaults.delay),
  concurrency: Cli.count("concurrency", "With --delay, datagrams waiting out their delay at once; more wait, then are dropped", UdpGreetingServer.defaults.concurrency),
  shutdownGrace: Cli.seconds("shutdown-grace", "On SIGINT/SIGTERM/SIGHUP, seconds to let delayed replies go out", UdpGreetingServer.defaults.shutdownGrace),
  metricsPort
}, ({ host, port, metricsPort, ...options }) =>
  Effect.gen(function*() {
    const socket = yield* UdpSocket.make({ host, port })
    yield* Console.log(`listening on udp://${formatAddress(socket.address)}`)
    const forceShutdown = yield* ForceShutdown
    yield* serveMetrics(host, metricsPort)
    return yield* UdpGreetingServer.serve({ ...options, forceShutdown }).pipe(
      Effect.provideService(UdpSocket.UdpSocket, socket)
    )
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on UDP: each datagram is answered with Hello, <data>!")
  )
