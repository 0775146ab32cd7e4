/**
 * `pnpm client:tcp`: the greeting client on TCP.
 */
import { Command } from "@effect/cli"
import { Console, Effect, Stream } from "effect"
import * as TcpClient from "../tcp/client.js"
import * as GreetingClient from "../tcp/greeting-client.js"
import * as Cli from "./options.js"
import { run } from "./main.js"

const command = Command.make("client:tcp", {
  host: Cli.host(),
  port: Cli.port("Port of the server"),
  framing: Cli.framing,
  timeout: Cli.seconds("timeout", "Seconds to wait for the connection, the welcome and each reply", 30),
  names: Cli.names(GreetingClient.defaultNames)
}, (options) =>
  GreetingClient.converse({
    names: options.names,
    framing: options.framing,
    replyTimeout: options.timeout
  }).pipe(
    Stream.runForEach((line) => Console.log(line)),
    Effect.provide(TcpClient.layer({ host: options.host, port: options.port, connectTimeout: options.timeout }))
  )).pipe(
    Command.withDescription("Talk to a greeting server: print the welcome and each reply on its own line, then send exit.")
  )

run(command, { interruptedExitCode: 130 })
