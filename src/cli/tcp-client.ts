/**
 * `effect-net tcp-client` (`pnpm client:tcp`): the greeting client on TCP.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Stream } from "effect"
import * as Greeting from "../greeting/protocol.js"
import * as TcpGreetingClient from "../greeting/tcp-client.js"
import * as TcpClient from "../tcp/client.js"
import * as Cli from "./options.js"
import { exitOnSignal } from "./runner.js"

export const command = Command.make("tcp-client", {
  host: Cli.host(TcpClient.defaults.host),
  port: Cli.port("Port of the server", Greeting.defaultPort),
  framing: Cli.framing(TcpGreetingClient.defaults.framing),
  timeout: Cli.seconds("timeout", "Seconds to wait for the connection, the welcome and each reply", TcpGreetingClient.defaults.replyTimeout),
  names: Cli.names(TcpGreetingClient.defaults.names)
}, (options) =>
  TcpGreetingClient.converse({
    names: options.names,
    framing: options.framing,
    replyTimeout: options.timeout
  }).pipe(
    Stream.runForEach((line) => Console.log(line)),
    Effect.provide(TcpClient.layer({ host: options.host, port: options.port, connectTimeout: options.timeout })),
    exitOnSignal
  )).pipe(
    Command.withDescription("Talk to a greeting server: print the welcome and each reply on its own line, then send exit.")
  )
