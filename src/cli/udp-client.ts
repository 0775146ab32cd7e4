/**
 * `pnpm client:udp`: the greeting client on UDP.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Stream } from "effect"
import { defaultNames } from "../tcp/greeting-client.js"
import * as UdpGreetingClient from "../udp/greeting-client.js"
import * as UdpSocket from "../udp/socket.js"
import { run } from "./main.js"
import * as Cli from "./options.js"

const command = Command.make("client:udp", {
  host: Cli.host(),
  port: Cli.port("Port of the server"),
  timeout: Cli.seconds("timeout", "Seconds to wait for a reply before sending the name again", 1),
  retries: Cli.count("retries", "Times a name is sent again when its reply does not come", 3, 0),
  names: Cli.names(defaultNames)
}, ({ host, port, ...options }) =>
  UdpGreetingClient.converse({ ...options, server: { host, port } }).pipe(
    Stream.runForEach((line) => Console.log(line)),
    Effect.provide(UdpSocket.layer({ host: UdpSocket.anyAddressFor(host) }))
  )).pipe(
    Command.withDescription("Greet each name over UDP and print the replies, one per line, in the order of the names.")
  )

run(command, { interruptedExitCode: 130 })
