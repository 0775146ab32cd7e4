/**
 * `effect-net udp-client` (`pnpm client:udp`): the greeting client on UDP.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option, Stream } from "effect"
import { udpAddress } from "../address.js"
import * as Greeting from "../greeting/protocol.js"
import * as UdpGreetingClient from "../greeting/udp-client.js"
import * as UdpSocket from "../udp/socket.js"
import * as Cli from "./options.js"
import { exitOnSignal } from "./runner.js"

export const command = Command.make("udp-client", {
  host: Cli.host(UdpSocket.defaults.host),
  port: Cli.port("Port of the server", Greeting.defaultPort),
  timeout: Cli.seconds("timeout", "Seconds to wait for a reply before sending the name again", UdpGreetingClient.defaults.timeout),
  retries: Cli.count("retries", "Times a name is sent again when its reply does not come", UdpGreetingClient.defaults.retries, 0),
  broadcast: Options.boolean("broadcast").pipe(
    Options.withDescription("Allow --host to be a broadcast address (255.255.255.255, or a network's such as 127.255.255.255).")
  ),
  multicastInterface: Cli.multicastInterface("send through when --host is a multicast group"),
  multicastTtl: Options.integer("multicast-ttl").pipe(
    Options.withDescription("When --host is a multicast group, how many routers its datagrams may cross (0 to 255; default 1, this network)."),
    Options.optional,
    Options.mapEffect((ttl) =>
      Option.isNone(ttl) || (ttl.value >= 0 && ttl.value <= 255)
        ? Effect.succeed(ttl)
        : Cli.invalid(`--multicast-ttl must be between 0 and 255, got ${ttl.value}`)
    )
  ),
  names: Cli.names(UdpGreetingClient.defaults.names)
}, ({ broadcast, host, multicastInterface, multicastTtl, port, ...options }) =>
  UdpGreetingClient.converse({ ...options, server: udpAddress(host, port) }).pipe(
    Stream.runForEach((line) => Console.log(line)),
    Effect.provide(UdpSocket.layer({
      host: UdpSocket.anyAddressFor(host),
      broadcast,
      multicastInterface: Option.getOrUndefined(multicastInterface),
      multicastTtl: Option.getOrUndefined(multicastTtl)
    })),
    exitOnSignal
  )).pipe(
    Command.withDescription(
      "Greet each name over UDP and print the replies, one per line, in the order of the names. --host may be a multicast group, or a broadcast address with --broadcast: the first reply to each name counts."
    )
  )
