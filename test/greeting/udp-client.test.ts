import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Logger, LogLevel, type Scope, Stream } from "effect"
import * as UdpGreetingClient from "../../src/greeting/udp-client.js"
import * as UdpGreetingServer from "../../src/greeting/udp-server.js"
import * as UdpSocket from "../../src/udp/socket.js"
import * as UdpPeer from "../helpers/udp-peer.js"
import { udpAddress } from "../../src/address.js"

/** Runs the client against `port`: the replies it emits, then its error, if any. */
const talk = (port: number, options: Omit<UdpGreetingClient.UdpGreetingClientOptions, "server"> = {}) =>
  Effect.gen(function*() {
    const replies: Array<string> = []
    const result = yield* UdpGreetingClient.converse({ server: udpAddress("127.0.0.1", port), ...options }).pipe(
      Stream.runForEach((reply) => Effect.sync(() => replies.push(reply))),
      Effect.either,
      Effect.provide(UdpSocket.layer({ host: "0.0.0.0" }))
    )
    return { replies, error: Either.isLeft(result) ? result.left : undefined }
  })

/** A scripted server of plain node:dgram: `onDatagram` plays the server's part. */
const scriptedServer = (
  onDatagram: (data: string, reply: (text: string) => void) => void
): Effect.Effect<number, never, Scope.Scope> =>
  Effect.map(UdpPeer.open(), (peer) => {
    peer.socket.on("message", (data, from) =>
      onDatagram(data.toString(), (text) => peer.socket.send(text, from.port, from.address)))
    return peer.port
  })

const ourServer = Effect.gen(function*() {
  const socket = yield* UdpSocket.make({ port: 0 })
  yield* Effect.forkScoped(UdpGreetingServer.serve().pipe(
    Effect.provideService(UdpSocket.UdpSocket, socket),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  ))
  return socket.address.port
})

describe("UDP greeting client", () => {
  it.scopedLive("greets the tutorial's names with our server, in order", () =>
    Effect.gen(function*() {
      const port = yield* ourServer
      expect(yield* talk(port)).toEqual({ replies: ["Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"], error: undefined })
    }))

  it.scopedLive("greets the names it is given, the same name twice too", () =>
    Effect.gen(function*() {
      const port = yield* ourServer
      const { replies } = yield* talk(port, { names: ["Ada", "Grace", "Ada", ""] })
      expect(replies).toEqual(["Hello, Ada!", "Hello, Grace!", "Hello, Ada!", "Hello, !"])
    }))

  it.scopedLive("matches replies that arrive in reverse order, and ignores datagrams that answer nothing", () =>
    Effect.gen(function*() {
      const pending: Array<[string, (text: string) => void]> = []
      const port = yield* scriptedServer((name, reply) => {
        pending.push([name, reply])
        if (pending.length < 3) return
        reply("Hello, stranger!")
        for (const [name, reply] of pending.reverse()) reply(`Hello, ${name}!`)
      })
      expect((yield* talk(port)).replies).toEqual(["Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"])
    }))

  it.scopedLive("sends a name again when its reply is lost", () =>
    Effect.gen(function*() {
      const seen = new Map<string, number>()
      const port = yield* scriptedServer((name, reply) => {
        const times = (seen.get(name) ?? 0) + 1
        seen.set(name, times)
        // Tracy's first two datagrams are "lost".
        if (name !== "Tracy" || times > 2) reply(`Hello, ${name}!`)
      })
      const { replies, error } = yield* talk(port, { timeout: "100 millis" })
      expect(error).toBeUndefined()
      expect(replies).toEqual(["Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"])
      expect(Object.fromEntries(seen)).toEqual({ Michael: 1, Tracy: 3, Sarah: 1 })
    }))

  it.scopedLive("fails naming every name that got no reply, after its retries, and emits the others", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const port = yield* scriptedServer((name, reply) => {
        seen.push(name)
        if (name === "Tracy") reply("Hello, Tracy!")
      })
      const started = Date.now()
      const { replies, error } = yield* talk(port, { timeout: "150 millis", retries: 1 })
      expect(Date.now() - started).toBeLessThan(2000)
      expect(replies).toEqual(["Hello, Tracy!"])
      expect(error?._tag).toBe("UdpNoReplyError")
      expect(error?.message).toBe(
        `no reply from 127.0.0.1:${port} for Michael, Sarah (each sent 2 time(s), 150ms apart)`
      )
      expect(seen.filter((name) => name === "Michael")).toHaveLength(2)
    }))

  it.scopedLive("with no retries, sends each name once", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const port = yield* scriptedServer((name) => seen.push(name))
      const { error } = yield* talk(port, { timeout: "100 millis", retries: 0, names: ["Ada"] })
      expect(error?.message).toMatch(/for Ada \(each sent 1 time\(s\), 100ms apart\)/)
      expect(seen).toEqual(["Ada"])
    }))

  it.scopedLive("fails with the send error when the server's address is unusable", () =>
    Effect.gen(function*() {
      const { error } = yield* talk(0)
      expect(error?._tag).toBe("UdpSendError")
      expect(error?.message).toMatch(/^cannot send a datagram of 7 bytes to 127\.0\.0\.1:0: Port should be > 0/)
    }))
})
