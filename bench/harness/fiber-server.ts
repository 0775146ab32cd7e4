/**
 * The floor servers' shell (`baselines/tcp-fiber.ts`, `baselines/lp-fiber.ts`): each accepted
 * socket (paused until read) conversed with in a bare Effect fiber, run on a scheduler that runs
 * it within the socket's event; listens on 127.0.0.1:`argv[2]` (0: a free port) and prints
 * `listening on tcp://...` once bound; SIGTERM exits.
 */
import { Effect, Scheduler } from "effect"
import * as Net from "node:net"

const immediate = Scheduler.make((task) => task())

export const serveFibers = (converse: (socket: Net.Socket) => Effect.Effect<void>): void => {
  const server = Net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => {
    Effect.runFork(converse(socket), { scheduler: immediate })
  })
  server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
    console.log(`listening on tcp://127.0.0.1:${(server.address() as Net.AddressInfo).port}`)
  })
  process.on("SIGTERM", () => process.exit(0))
}
