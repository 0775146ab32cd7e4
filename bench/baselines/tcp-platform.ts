/**
 * Baseline 2: the greeting server written the obvious way on @effect/platform today:
 * NodeSocketServer + Socket.run, the welcome in `onOpen`, one write per reply.
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Console, Effect } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const handle = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const write = yield* socket.writer
    yield* socket.run(
      (data) => {
        const message = decoder.decode(data)
        return message === "exit" ? write(new Socket.CloseEvent()) : write(encoder.encode(`Hello, ${message}!`))
      },
      { onOpen: Effect.orDie(write(encoder.encode("Welcome!"))) }
    )
  }).pipe(Effect.scoped, Effect.ignore)

const program = Effect.gen(function*() {
  const server = yield* SocketServer.SocketServer
  const address = server.address as SocketServer.TcpAddress
  yield* Console.log(`listening on tcp://127.0.0.1:${address.port}`)
  yield* server.run(handle)
})

Effect.runFork(program.pipe(
  Effect.provide(NodeSocketServer.layer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) }))
))
process.on("SIGTERM", () => process.exit(0))
