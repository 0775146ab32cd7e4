import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as UdpGreetingServer from "../../src/greeting/udp-server.js"
import * as UdpSocket from "../../src/udp/socket.js"
import * as UdpPeer from "../helpers/udp-peer.js"

const serverOn = (options: UdpGreetingServer.UdpGreetingServerOptions, socketOptions: UdpSocket.UdpSocketOptions = {}) =>
  UdpGreetingServer.layer(options).pipe(Layer.provideMerge(UdpSocket.layer({ port: 0, ...socketOptions })))

/** Sends each datagram from a fresh peer and waits for as many replies. */
const exchange = (datagrams: ReadonlyArray<string | Uint8Array>) =>
  Effect.gen(function*() {
    const { address } = yield* UdpSocket.UdpSocket
    const peer = yield* UdpPeer.open()
    for (const datagram of datagrams) peer.send(datagram, address.port)
    return yield* peer.waitFor(datagrams.length)
  })

describe("UDP greeting server", () => {
  layer(serverOn({}), { excludeTestServices: true })((it) => {
    it.scoped("answers each datagram with Hello, <data>! to its sender, byte for byte", () =>
      Effect.gen(function*() {
        expect(yield* exchange(["Michael"])).toEqual(["Hello, Michael!"])
        expect(yield* exchange(["Tracy"])).toEqual(["Hello, Tracy!"])
      }))

    it.scoped("echoes one trailing newline or CRLF after the ! (nc -u users get a line back)", () =>
      Effect.gen(function*() {
        expect(yield* exchange(["Michael\n"])).toEqual(["Hello, Michael!\n"])
        expect(yield* exchange(["Tracy\r\n"])).toEqual(["Hello, Tracy!\r\n"])
      }))

    it.scoped("answers an empty datagram with Hello, !, as the tutorial's server", () =>
      Effect.map(exchange([""]), (replies) => expect(replies).toEqual(["Hello, !"])))

    it.scoped("passes binary and invalid UTF-8 bytes through unchanged", () =>
      Effect.gen(function*() {
        const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0xfe])
        expect(yield* exchange([binary])).toEqual([`Hello, ${binary.toString("latin1")}!`])
      }))

    it.scoped("answers a datagram whose reply would not fit in one datagram with an error", () =>
      Effect.gen(function*() {
        const largest = "x".repeat(65507 - 8)
        const replies = yield* exchange([largest, largest + "y"])
        expect(replies).toEqual([`Hello, ${largest}!`, "Error: datagram too long (max 65499 bytes)\n"])
      }))

    it.scoped("answers many senders at once, each its own reply", () =>
      Effect.gen(function*() {
        const { address } = yield* UdpSocket.UdpSocket
        const peers = yield* Effect.all(Array.from({ length: 20 }, () => UdpPeer.open()))
        peers.forEach((peer, i) => {
          for (let j = 0; j < 10; j++) peer.send(`p${i}-${j}`, address.port)
        })
        for (const [i, peer] of peers.entries()) {
          const replies = yield* peer.waitFor(10)
          expect([...replies].sort()).toEqual(Array.from({ length: 10 }, (_, j) => `Hello, p${i}-${j}!`).sort())
        }
      }))
  })

  layer(serverOn({ delay: "1 second" }), { excludeTestServices: true })((it) => {
    it.scoped("with a delay, answers 100 datagrams sent at once together, not one after the other", () =>
      Effect.gen(function*() {
        const names = Array.from({ length: 100 }, (_, i) => `n${i}`)
        const started = Date.now()
        const replies = yield* exchange(names)
        const elapsed = Date.now() - started
        expect([...replies].sort()).toEqual(names.map((name) => `Hello, ${name}!`).sort())
        expect(elapsed).toBeGreaterThanOrEqual(950)
        expect(elapsed).toBeLessThan(5000)
      }))
  })

  it.scopedLive("at its concurrency, leaves datagrams in the buffer, drops and counts when that is full, warns, recovers", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
      const context = yield* Layer.build(
        serverOn({ delay: "200 millis", concurrency: 4 }, { bufferSize: 8 }).pipe(
          Layer.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      )
      const socket = Context.get(context, UdpSocket.UdpSocket)
      const peer = yield* UdpPeer.open()
      for (let i = 0; i < 50; i++) peer.send(`d${i}`, socket.address.port)
      while (socket.received() < 50) yield* Effect.sleep("10 millis")
      // At most 4 wait out their delay, one chunk waits for a slot, and 8 more wait in the buffer.
      const dropped = socket.dropped()
      expect(dropped).toBeGreaterThan(0)
      const replies = yield* peer.waitFor(50 - dropped)
      for (const reply of replies) expect(reply).toMatch(/^Hello, d\d+!$/)
      expect(new Set(replies).size).toBe(50 - dropped)
      yield* Effect.sleep("1100 millis")
      expect(peer.received().length).toBe(50 - dropped)
      expect(logs.at(-1)).toMatch(new RegExp(`^dropped \\d+ datagram\\(s\\): they came faster than the server answers them \\(total ${dropped}\\)$`))
      peer.send("again", socket.address.port)
      expect((yield* peer.waitFor(51 - dropped)).at(-1)).toBe("Hello, again!")
    }))
})
