/**
 * `effect-net udp-client` (`pnpm client:udp`): the greeting client on UDP.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Stream } from "effect"
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
  names: Cli.names(UdpGreetingClient.defaults.names)
}, ({ host, port, ...options }) =>
  UdpGreetingClient.converse({ ...options, server: { host, port } }).pipe(
    Stream.runForEach((line) => Console.log(line)),
    Effect.provide(UdpSocket.layer({ host: UdpSocket.anyAddressFor(host) })),
    exitOnSignal
  )).pipe(
    Command.withDescription("Greet each name over UDP and print the replies, one per line, in the order of the names.")
  )
