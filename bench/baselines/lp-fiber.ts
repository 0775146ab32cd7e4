/**
 * The lp ping-pong case's floor: the length-prefixed greeting of `lp-raw.ts`, with the same
 * framing code, as a bare Effect fiber per connection, the design of `tcp-fiber.ts` (the
 * immediate scheduler, one `Effect.async` per wait, flowing reads paused while no read waits,
 * synchronous writes, no library). `node lp-fiber.js PORT` prints `listening on ...`.
 */
import { Effect, Scheduler } from "effect"
import * as Net from "node:net"
import { fiberRead } from "../harness/fiber-read.js"
import { FrameReader, frame, greeting } from "../harness/length-prefixed.js"

const immediate = Scheduler.make((task) => task())

const converse = (socket: Net.Socket): Effect.Effect<void> => {
  const read = fiberRead(socket)
  const frames = new FrameReader()
  const reply = (name: Buffer) => void socket.write(frame(greeting(name)))
  const loop: Effect.Effect<void> = Effect.flatMap(read, (data) => {
    if (data === undefined) {
      socket.end()
      return Effect.void
    }
    // A frame too large for us: the peer is not speaking our protocol.
    if (!frames.push(data, reply)) {
      socket.destroy()
      return Effect.void
    }
    return loop
  })
  return loop
}

const server = Net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
  Effect.runFork(converse(socket), { scheduler: immediate })
})
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on tcp://127.0.0.1:${(server.address() as Net.AddressInfo).port}`)
})
process.on("SIGTERM", () => process.exit(0))
