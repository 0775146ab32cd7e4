import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Logger, LogLevel, type Scope, Stream } from "effect"
import * as Net from "node:net"
import * as TcpClient from "../../src/tcp/client.js"
import * as TcpGreetingClient from "../../src/greeting/tcp-client.js"
import * as TcpGreetingServer from "../../src/greeting/tcp-server.js"
import * as TcpListener from "../../src/tcp/listener.js"
import { portOf } from "../helpers/address.js"

/** Runs the client's conversation against `port`; the lines it shows, or its error. */
const talk = (port: number, options: TcpGreetingClient.TcpGreetingClientOptions = {}) =>
  TcpGreetingClient.converse(options).pipe(
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.provide(TcpClient.layer({ port }))
  )

/** A scripted server of plain node:net: `onConnection` plays the server's part. */
const scriptedServer = (onConnection: (socket: Net.Socket) => void): Effect.Effect<number, never, Scope.Scope> => {
  const sockets = new Set<Net.Socket>()
  return Effect.acquireRelease(
    Effect.async<Net.Server>((resume) => {
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        onConnection(socket)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))
}

describe("greeting client", () => {
  for (const framing of ["raw", "line"] as const) {
    it.scopedLive(`has the tutorial's conversation with our server (${framing} framing)`, () =>
      Effect.gen(function*() {
        const listener = yield* TcpListener.make({ port: 0 })
        yield* Effect.forkScoped(TcpGreetingServer.serve({ delay: 0, framing }).pipe(
          Effect.provideService(TcpListener.TcpListener, listener),
          Logger.withMinimumLogLevel(LogLevel.Warning)
        ))
        expect(yield* talk(portOf(listener.address), { framing })).toEqual([
          "Welcome!",
          "Hello, Michael!",
          "Hello, Tracy!",
          "Hello, Sarah!"
        ])
        expect(yield* talk(portOf(listener.address), { framing, names: ["Ada"] })).toEqual(["Welcome!", "Hello, Ada!"])
      }))
  }

  it.scopedLive("fails clearly when the server closes before a reply", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => socket.end("Welcome!"))
      const error = yield* Effect.flip(talk(port))
      expect(error.message).toBe("the server closed the connection before sending the reply to Michael")
    }))

  it.scopedLive("reports the server's error line (a busy server)", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => socket.end("Error: server busy\n"))
      const error = yield* Effect.flip(talk(port, { framing: "line" }))
      expect(error.message).toBe("the server refused the conversation: server busy")
    }))

  it.scopedLive("gives up on a server that does not answer", () =>
    Effect.gen(function*() {
      const port = yield* scriptedServer((socket) => socket.write("Welcome!"))
      const error = yield* Effect.flip(talk(port, { replyTimeout: "200 millis" }))
      expect(error).toMatchObject({ _tag: "GreetingClientError", reason: "Timeout" })
      expect(error.message).toBe("no answer from the server while waiting for the reply to Michael (200ms)")
    }))
})
