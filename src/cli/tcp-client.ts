/**
 * `effect-net tcp-client` (`pnpm client:tcp`): the greeting client on TCP, in TLS with `--tls`,
 * on a Unix domain socket with `--unix`.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option, Stream } from "effect"
import * as Greeting from "../greeting/protocol.js"
import * as TcpGreetingClient from "../greeting/tcp-client.js"
import * as TcpClient from "../tcp/client.js"
import * as Cli from "./options.js"
import { exitOnSignal } from "./runner.js"

const script = "client:tcp"

/** The TLS options of `--tls`, `--insecure` and `--ca`, the CA's file read; none without `--tls`. */
const tlsOptions = (tls: boolean, insecure: boolean, ca: Option.Option<string>) =>
  Effect.gen(function*() {
    if (!tls) {
      if (insecure) return yield* Cli.invalid("--insecure needs --tls")
      return Option.isSome(ca) ? yield* Cli.invalid("--ca needs --tls") : undefined
    }
    if (Option.isNone(ca)) return { insecure }
    return { insecure, ca: yield* Cli.readFlagFile(script, "--ca", ca.value) }
  })

export const command = Command.make("tcp-client", {
  host: Cli.host(TcpClient.defaults.host),
  port: Cli.port("Port of the server", Greeting.defaultPort),
  framing: Cli.framing(TcpGreetingClient.defaults.framing),
  timeout: Cli.seconds("timeout", "Seconds to wait for the connection, the welcome and each reply", TcpGreetingClient.defaults.replyTimeout),
  tls: Options.boolean("tls").pipe(
    Options.withDescription("Speak TLS; the server's certificate must verify (against the system's CAs, or --ca), unless --insecure.")
  ),
  insecure: Options.boolean("insecure").pipe(
    Options.withDescription("With --tls, accept a certificate that does not verify, such as a self-signed one.")
  ),
  ca: Options.text("ca").pipe(
    Options.withDescription("With --tls, trust only the CAs in this file (PEM): a private CA's, or the server's self-signed certificate itself."),
    Options.optional
  ),
  unix: Cli.unix("Connect to the Unix domain socket at this path instead of --host and --port."),
  names: Cli.names(TcpGreetingClient.defaults.names)
}, (options) =>
  Effect.gen(function*() {
    const tls = yield* tlsOptions(options.tls, options.insecure, options.ca)
    const common = { tls, connectTimeout: options.timeout }
    const server: TcpClient.TcpClientOptions = Option.match(options.unix, {
      onNone: () => ({ ...common, host: options.host, port: options.port }),
      onSome: (path) => ({ ...common, path: Cli.userPath(script, path) })
    })
    yield* TcpGreetingClient.converse({
      names: options.names,
      framing: options.framing,
      replyTimeout: options.timeout
    }).pipe(
      Stream.runForEach((line) => Console.log(line)),
      Effect.provide(TcpClient.layer(server))
    )
  }).pipe(exitOnSignal)).pipe(
    Command.withDescription("Talk to a greeting server: print the welcome and each reply on its own line, then send exit.")
  )
