/**
 * `effect-net udp-server` (`pnpm start:udp`): the greeting server on UDP.
 */
import { Command, Options } from "@effect/cli"
import { Effect, type MetricPair, Option } from "effect"
import { formatAddress } from "../address.js"
import * as Greeting from "../greeting/protocol.js"
import * as UdpGreetingServer from "../greeting/udp-server.js"
import * as Metrics from "../metrics/metrics.js"
import * as UdpSocket from "../udp/socket.js"
import { metricsPort } from "./metrics.js"
import * as Cli from "./options.js"
import * as Workers from "./workers.js"

/** An IPv6 group bound with the interface's name as its zone: link-local groups (ff02::...) need one. */
const bindAddress = (group: string, iface: Option.Option<string>) =>
  group.includes(":") && Option.isSome(iface) && /^[A-Za-z][\w.-]*$/.test(iface.value) ? `${group}%${iface.value}` : group

export const command = Command.make("udp-server", {
  host: Options.text("host").pipe(
    Options.withDescription(
      `Address to bind (default ${UdpSocket.defaults.host}; with --multicast-group, the group); IPv6 such as ::1 works too.`
    ),
    Options.optional
  ),
  port: Cli.port("Port to listen on; 0 picks a free one", Greeting.defaultPort),
  delay: Cli.seconds("delay", "Seconds to wait before each reply", UdpGreetingServer.defaults.delay),
  concurrency: Cli.count("concurrency", "With --delay, datagrams waiting out their delay at once; more wait, then are dropped", UdpGreetingServer.defaults.concurrency),
  maxWait: Cli.seconds("max-wait", "Drop, instead of answering late, a datagram that has waited longer than this many seconds for its turn (behind others, or for a --concurrency slot): each is answered within --max-wait plus --delay, or not at all; 0 for no bound", UdpGreetingServer.defaults.maxWait),
  shutdownGrace: Cli.shutdownGrace("delayed replies go out", UdpGreetingServer.defaults.shutdownGrace),
  multicastGroup: Cli.multicastGroup,
  multicastInterface: Cli.multicastInterface("join the group on"),
  cluster: Cli.cluster,
  metricsPort
}, ({ cluster, host, metricsPort, multicastGroup, multicastInterface, port, ...options }) =>
  Effect.gen(function*() {
    if (Option.isNone(multicastGroup) && Option.isSome(multicastInterface)) {
      return yield* Cli.invalid("--multicast-interface needs --multicast-group")
    }
    const bindHost = Option.getOrElse(
      host,
      () => Option.match(multicastGroup, { onNone: () => UdpSocket.defaults.host, onSome: (group) => bindAddress(group, multicastInterface) })
    )
    const metricsHost = Option.getOrElse(host, () => UdpSocket.defaults.host)
    const metrics = {
      host: metricsHost,
      port: metricsPort,
      summary: (sum: ReadonlyArray<MetricPair.MetricPair.Untyped>) => UdpGreetingServer.summary(UdpGreetingServer.outcomeOf(sum))
    }
    return yield* Workers.serve(cluster, metrics, (serving) =>
      Effect.gen(function*() {
        const socket = yield* UdpSocket.make({
          host: bindHost,
          port: serving.port(port),
          // Several servers on one host may join the same group on the same port: each gets every datagram.
          reuseAddress: Option.isSome(multicastGroup),
          multicastGroups: Option.toArray(multicastGroup),
          multicastInterface: Option.getOrUndefined(multicastInterface),
          // Workers share one socket.
          exclusive: cluster.workers === 1
        })
        yield* serving.listening(`udp://${formatAddress(socket.address)}`, socket.address.port)
        if (Option.isSome(multicastGroup)) {
          yield* Effect.logInfo(
            `joined multicast group ${multicastGroup.value} on ${Option.getOrElse(multicastInterface, () => "the system's default interface")}`
          )
        }
        return yield* UdpGreetingServer.serve({ ...options, forceShutdown: serving.forceShutdown }).pipe(
          Effect.provideService(UdpSocket.UdpSocket, socket)
        )
      }).pipe(Effect.provideServiceEffect(Metrics.Metrics, Metrics.make({ server: "udp-server" }))))
  })).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on UDP: each datagram is answered with Hello, <data>!")
  )
