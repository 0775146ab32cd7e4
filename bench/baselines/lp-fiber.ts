/**
 * The lp ping-pong case's floor: the length-prefixed greeting of `lp-raw.ts`, with the same
 * framing code, as a bare Effect fiber per connection, the design of `tcp-fiber.ts` (the
 * immediate scheduler, one `Effect.async` per wait, flowing reads paused while no read waits,
 * synchronous writes, no library). `node lp-fiber.js PORT` prints `listening on ...`.
 */
import { Effect } from "effect"
import type * as Net from "node:net"
import { fiberRead } from "../harness/fiber-read.js"
import { serveFibers } from "../harness/fiber-server.js"
import { FrameReader, frame, greeting } from "../harness/length-prefixed.js"

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

serveFibers(converse)
