/**
 * The floor of effect-net's design: the greeting server (raw framing, no delay) as a bare Effect
 * fiber per connection and nothing else: the immediate scheduler, one `Effect.async` per wait,
 * flowing reads paused while no read waits, synchronous writes, no library. What the project
 * spends above this is the cost of its own code. `node tcp-fiber.js PORT` prints `listening on ...`.
 */
import { Effect, Scheduler } from "effect"
import * as Net from "node:net"

const immediate = Scheduler.make((task) => task())
const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")
const exit = Buffer.from("exit")
const endOfStream = Effect.succeed(undefined)

const converse = (socket: Net.Socket): Effect.Effect<void> => {
  let waiting: ((read: Effect.Effect<Buffer | undefined>) => void) | undefined
  let held: Buffer | undefined
  let ended = false
  const wake = (read: Effect.Effect<Buffer | undefined>) => {
    const resume = waiting
    waiting = undefined
    resume?.(read)
  }
  socket.on("data", (data: Buffer) => {
    if (waiting !== undefined) return wake(Effect.succeed(data))
    held = data
    socket.pause()
  })
  socket.on("end", () => {
    ended = true
    wake(endOfStream)
  })
  socket.on("error", () => socket.destroy())
  socket.on("close", () => {
    ended = true
    wake(endOfStream)
  })
  const read = Effect.async<Buffer | undefined>((resume) => {
    if (held !== undefined) {
      const data = held
      held = undefined
      socket.resume()
      return resume(Effect.succeed(data))
    }
    if (ended) return resume(endOfStream)
    waiting = resume
    if (socket.isPaused()) socket.resume()
  })
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
