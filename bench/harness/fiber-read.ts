/**
 * The floor servers' read (`baselines/tcp-fiber.ts`, `baselines/lp-fiber.ts`): a bare Effect
 * fiber's wait for a socket's next chunk, one `Effect.async` per wait, the socket's flowing reads
 * paused while no read waits. For a socket accepted with `pauseOnConnect`, and a fiber run on a
 * scheduler that runs it within the socket's event.
 */
import { Effect } from "effect"
import type * as Net from "node:net"

const endOfStream = Effect.succeed(undefined)

/** The next chunk `socket` reads, or `undefined` once it has ended or closed. */
export const fiberRead = (socket: Net.Socket): Effect.Effect<Buffer | undefined> => {
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
  return Effect.async<Buffer | undefined>((resume) => {
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
}
