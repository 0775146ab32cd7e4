/**
 * `effect-net`: the package's program (its `bin`), one command with a subcommand per service.
 * The pnpm scripts of this repository are its entry points (`pnpm start:tcp` is
 * `effect-net tcp-server`, and so on).
 */
import { Command } from "@effect/cli"
import { command as httpGet } from "./http-get.js"
import { handled, run } from "./runner.js"
import { command as tcpClient } from "./tcp-client.js"
import { command as tcpServer } from "./tcp-server.js"
import { command as udpClient } from "./udp-client.js"
import { command as udpServer } from "./udp-server.js"

const subcommands = [handled(tcpServer), handled(tcpClient), handled(udpServer), handled(udpClient), handled(httpGet)] as const

const effectNet = Command.make("effect-net").pipe(
  Command.withDescription("The socket tutorial's services on Effect: TCP and UDP greeting servers and clients, and an HTTP GET."),
  Command.withSubcommands(subcommands)
)

run(effectNet, subcommands)
