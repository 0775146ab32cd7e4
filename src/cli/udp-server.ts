/**
 * `pnpm start:udp`: the greeting server on UDP.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { formatAddress } from "../address.js"
import * as UdpGreetingServer from "../udp/greeting-server.js"
import * as UdpSocket from "../udp/socket.js"
import { ForceShutdown, run } from "./main.js"
import { metricsPort, serveMetrics } from "./metrics.js"
import * as Cli from "./options.js"

const command = Command.make("start:udp", {
  host: Cli.host(),
  port: Cli.port("Port to listen on; 0 picks a free one"),
  delay: Cli.seconds("delay", "Seconds to wait before each reply", 0),
  concurrency: Cli.count("concurrency", "With --delay, datagrams waiting out their delay at once; more wait, then are dropped", 1024),
  shutdownGrace: Cli.seconds("shutdown-grace", "On SIGINT/SIGTERM, seconds to let delayed replies go out", 5),
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

run(command)
