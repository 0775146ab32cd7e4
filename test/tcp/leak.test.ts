import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import * as Net from "node:net"
import * as TcpGreetingServer from "../../src/greeting/tcp-server.js"
import * as TcpListener from "../../src/tcp/listener.js"
import { gc, heapUsed, MB } from "../helpers/memory.js"
import { portOf } from "../helpers/address.js"


/** `count` clients, `concurrency` at a time, each sending `bytes` and closing. */
const clients = (port: number, count: number, concurrency: number, bytes: number) =>
  Effect.forEach(
    Array.from({ length: count }),
    () =>
      Effect.async<void>((resume) => {
        const socket = Net.connect(port, "127.0.0.1")
        socket.on("error", () => {})
        socket.on("data", () => {})
        socket.on("close", () => resume(Effect.void))
        socket.once("connect", () => socket.end(Buffer.alloc(bytes, "z")))
      }),
    { concurrency, discard: true }
  )

describe("memory", () => {
  it.scopedLive.skipIf(gc === undefined)("the server retains nothing per connection once its clients are gone", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* Effect.forkScoped(TcpGreetingServer.serve({ delay: 0 }).pipe(
        Effect.provideService(TcpListener.TcpListener, listener),
        Logger.withMinimumLogLevel(LogLevel.Warning)
      ))
      yield* clients(portOf(listener.address), 50, 10, 1000)
      const before = heapUsed()
      yield* clients(portOf(listener.address), 2000, 50, 100_000)
      yield* Effect.sleep("200 millis")
      const after = heapUsed()
      expect(listener.openConnections()).toBe(0)
      expect(after - before, `heap ${(before / MB).toFixed(1)} -> ${(after / MB).toFixed(1)} MB`).toBeLessThan(4 * MB)
    }), 60_000)
})
