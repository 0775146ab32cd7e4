/**
 * The lp ping-pong case's effect-net server: the length-prefixed greeting of
 * `baselines/lp-raw.ts` written on the library's public API as a user would (`TcpListener`,
 * `TcpServer.serve`, `TcpConnection.runMessages` with `Framing.lengthPrefixed()`, replies through
 * `Framing.encodeLengthPrefixed()` and `write`), its defaults untouched; the reply's payload made
 * as the baselines make it. `node lp-effect-net.js PORT` prints `listening on tcp://127.0.0.1:PORT`.
 */
import { Console, Effect } from "effect"
import { formatAddress, Framing, type Message, TcpConnection, TcpListener, TcpServer } from "../../src/index.js"
import { greeting } from "../harness/length-prefixed.js"

const encode = Framing.encodeLengthPrefixed()

const onMessage = (message: Message, connection: TcpConnection.Connection) =>
  Effect.flatMap(encode(greeting(message.body)), connection.write)

const converse = (connection: TcpConnection.Connection) =>
  TcpConnection.runMessages(connection, Framing.lengthPrefixed(), onMessage)

const program = Effect.gen(function*() {
  const { address } = yield* TcpListener.TcpListener
  yield* Console.log(`listening on tcp://${formatAddress(address)}`)
  return yield* TcpServer.serve(converse)
})

Effect.runFork(program.pipe(Effect.provide(TcpListener.layer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) }))))
process.on("SIGTERM", () => process.exit(0))
