/**
 * `pnpm start:tcp`: the greeting server on TCP.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { formatAddress } from "../address.js"
import { defaultMaxLineBytes } from "../protocol/framing.js"
import * as GreetingServer from "../tcp/greeting-server.js"
import * as TcpListener from "../tcp/listener.js"
import * as Cli from "./options.js"
import { run } from "./main.js"

const command = Command.make("start:tcp", {
  host: Cli.host(),
  port: Cli.port("Port to listen on; 0 picks a free one"),
  delay: Cli.seconds("delay", "Seconds to wait before each reply, as the tutorial", 1),
  framing: Cli.framing,
  maxLineBytes: Cli.count("max-line-bytes", "Longest line accepted with --framing line", defaultMaxLineBytes)
}, (options) =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make({ host: options.host, port: options.port })
    yield* Console.log(`listening on tcp://${formatAddress(listener.address)}`)
    return yield* GreetingServer.serve(options).pipe(Effect.provideService(TcpListener.TcpListener, listener))
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription("Serve the tutorial's greeting protocol on TCP: Welcome!, then Hello, <message>! per message until exit.")
  )

run(command)
