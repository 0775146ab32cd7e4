/**
 * The floor of effect-net's design: the greeting server (raw framing, no delay) as a bare Effect
 * fiber per connection and nothing else: the immediate scheduler, one `Effect.async` per wait,
 * flowing reads paused while no read waits (`harness/fiber-read.ts`), synchronous writes, no
 * library. What the project spends above this is the cost of its own code. `node tcp-fiber.js
 * PORT` prints `listening on ...`.
 */
import { Effect } from "effect"
import type * as Net from "node:net"
import { fiberRead } from "../harness/fiber-read.js"
import { serveFibers } from "../harness/fiber-server.js"

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

serveFibers(converse)
