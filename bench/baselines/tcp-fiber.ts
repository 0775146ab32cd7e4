/**
 * The floor of effect-net's design: the greeting server (raw framing, no delay) as a bare Effect
 * fiber per connection and nothing else: the immediate scheduler, one `Effect.async` per wait,
 * flowing reads paused while no read waits (`harness/fiber-read.ts`), synchronous writes, no
 * library. What the project spends above this is the cost of its own code. `node tcp-fiber.js
 * PORT` prints `listening on ...`.
 */
import { Effect, Scheduler } from "effect"
import * as Net from "node:net"
import { fiberRead } from "../harness/fiber-read.js"

const immediate = Scheduler.make((task) => task())
const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")
const exit = Buffer.from("exit")

const converse = (socket: Net.Socket): Effect.Effect<void> => {
  const read = fiberRead(socket)
  const loop: Effect.Effect<void> = Effect.flatMap(read, (data) => {
    if (data === undefined || data.equals(exit)) {
      socket.end()
      return Effect.void
    }
    socket.write(Buffer.concat([hello, data, bang]))
    return loop
  })
  socket.write("Welcome!")
  return loop
}

const server = Net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
  Effect.runFork(converse(socket), { scheduler: immediate })
})
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on tcp://127.0.0.1:${(server.address() as Net.AddressInfo).port}`)
})
process.on("SIGTERM", () => process.exit(0))
