/**
 * The idle timeout, over real loopback sockets: idle means no bytes moved in either direction, so a
 * connection that is only writing (a download to a silent client) or only reading is not idle,
 * and one on which nothing moves is closed, server and client side alike.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger, LogLevel, Option, Stream } from "effect"
import * as Net from "node:net"
import * as TcpClient from "../../src/tcp/client.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import { listen } from "../helpers/servers.js"
import { portOf } from "../helpers/address.js"

/** A raw client that only reads; resolves with what it got and how the connection ended. */
const download = (port: number) =>
  new Promise<{ bytes: number; ended: "end" | "error" }>((resolve) => {
    let bytes = 0
    const socket = Net.connect({ port, host: "127.0.0.1" })
    socket.on("data", (data: Buffer) => (bytes += data.length))
    socket.on("end", () => resolve({ bytes, ended: "end" }))
    socket.on("error", () => resolve({ bytes, ended: "error" }))
  })

const chunk = Buffer.alloc(16 * 1024, 1)

describe("idle timeout: no progress in either direction", () => {
  it.scopedLive("a server writing a download to a silent client is not idle; the whole of it arrives", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, idleTimeout: "300 millis" })
      yield* TcpServer.serve((connection) =>
        Effect.gen(function*() {
          // Waits for the peer's end meanwhile, as a server does.
          const reading = yield* Effect.fork(Stream.runDrain(connection.reads))
          for (let i = 0; i < 15; i++) {
            yield* connection.write(chunk)
            yield* Effect.sleep("100 millis")
          }
          yield* Fiber.interrupt(reading)
        })
      ).pipe(Effect.provideService(TcpListener.TcpListener, listener), Logger.withMinimumLogLevel(LogLevel.Error), Effect.forkScoped)
      const result = yield* Effect.promise(() => download(portOf(listener.address)))
      expect(result).toEqual({ bytes: 15 * chunk.length, ended: "end" })
    }))

  it.scopedLive("a connection on which nothing moves either way is closed after the timeout", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, idleTimeout: "300 millis" })
      const peer = Net.connect({ port: portOf(listener.address), host: "127.0.0.1" })
      yield* Effect.addFinalizer(() => Effect.sync(() => peer.destroy()))
      const connection = yield* listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))
      const began = Date.now()
      const error = yield* Effect.flip(connection.read)
      expect(error._tag).toBe("TcpTimeoutError")
      expect(Date.now() - began).toBeGreaterThanOrEqual(250)
      expect(Date.now() - began).toBeLessThan(1500)
    }))

  it.scopedLive("a client uploading to a silent server is not idle", () =>
    Effect.gen(function*() {
      let received = 0
      const port = yield* listen(Net.createServer((socket) => socket.on("data", (data: Buffer) => (received += data.length))))
      const connection = yield* TcpClient.connect({ port, idleTimeout: "300 millis" })
      for (let i = 0; i < 15; i++) {
        yield* connection.write(chunk)
        yield* Effect.sleep("100 millis")
      }
      yield* connection.end
      yield* Effect.sleep("50 millis")
      expect(received).toBe(15 * chunk.length)
    }))
})
