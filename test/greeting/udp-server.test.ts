import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import * as UdpGreetingServer from "../../src/greeting/udp-server.js"
import * as Logging from "../../src/logging.js"
import * as Metrics from "../../src/metrics/metrics.js"
import * as UdpSocket from "../../src/udp/socket.js"
import { recording } from "../helpers/metrics.js"
import * as UdpPeer from "../helpers/udp-peer.js"

const metrics = recording("udp-test")

/** A server on a free port, counting in the metrics of `metrics`. */
const serverOn = (options: UdpGreetingServer.UdpGreetingServerOptions, socketOptions: UdpSocket.UdpSocketOptions = {}) =>
  UdpGreetingServer.layer(options).pipe(
    Layer.provideMerge(UdpSocket.layer({ port: 0, ...socketOptions })),
    Layer.provide(Metrics.layer({ server: "udp-test" }))
  )

/** Sends each datagram from a fresh peer and waits for as many replies. */
const exchange = (datagrams: ReadonlyArray<string | Uint8Array>) =>
  Effect.gen(function*() {
    const { address } = yield* UdpSocket.UdpSocket
    const peer = yield* UdpPeer.open()
    for (const datagram of datagrams) peer.send(datagram, address.port)
    return yield* peer.waitFor(datagrams.length)
  })

/**
 * A logger that keeps the messages, for the tests of what the server says: its routine lines
 * at Info, as the effect-net program has them (Debug by default), unless `routine` is false.
 */
const capturedLogs = (routine = true) => {
  const logs: Array<string> = []
  const logger = Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
  const layer = Logger.replace(Logger.defaultLogger, logger)
  return { logs, layer: routine ? Layer.merge(layer, Logging.layerRoutineLevel(LogLevel.Info)) : layer }
}

/** The UDP datagram counters (the metrics are global: compare before and after). */
const ledger = () => ({
  received: metrics.count(Metrics.datagramsReceived),
  answered: metrics.count(Metrics.datagramsAnswered),
  dropped: metrics.count(Metrics.datagramsDropped)
})

/** Waits, polling, until `condition` holds (bounded by the test's timeout). */
const until = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => condition() ? Effect.void : Effect.zipRight(Effect.sleep("5 millis"), until(condition)))

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
      const { layer: logger, logs } = capturedLogs()
      const context = yield* Layer.build(
        serverOn({ delay: "200 millis", concurrency: 4 }, { bufferSize: 8 }).pipe(Layer.provide(logger))
      )
      const socket = Context.get(context, UdpSocket.UdpSocket)
      const peer = yield* UdpPeer.open()
      for (let i = 0; i < 50; i++) peer.send(`d${i}`, socket.address.port)
      while (socket.received() < 50) yield* Effect.sleep("10 millis")
      // At most 4 wait out their delay and 8 wait in the buffer.
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

  it.scopedLive("takes a datagram from the buffer only into a free slot: exactly bufferSize wait, and each ends answered or dropped", () =>
    Effect.gen(function*() {
      const before = ledger()
      const { layer: logger, logs } = capturedLogs()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        serverOn({ delay: "30 seconds", concurrency: 4, shutdownGrace: 0 }, { bufferSize: 8 }).pipe(Layer.provide(logger)),
        scope
      )
      const socket = Context.get(context, UdpSocket.UdpSocket)
      const peer = yield* UdpPeer.open()
      // 4 take the 4 slots, for 30 s.
      for (let i = 0; i < 4; i++) peer.send(`slot${i}`, socket.address.port)
      yield* until(() => socket.received() === 4 && socket.waiting() === 0)
      // Two bursts while no slot is free: 8 wait in the buffer, whatever the timing, and the rest is dropped.
      for (const burst of [1, 2]) {
        for (let i = 0; i < 50; i++) peer.send(`b${burst}-${i}`, socket.address.port)
        yield* until(() => socket.received() === 4 + 50 * burst)
      }
      expect(socket.dropped()).toBe(92)
      expect(socket.waiting()).toBe(8)

      // A shutdown with no grace drops the 4 in their slots and the 8 waiting.
      yield* Scope.close(scope, Exit.void)
      expect(logs).toContain("shutting down: dropping 8 datagram(s) not yet being answered, letting 4 delayed reply(s) go out, for up to 0")
      expect(logs).toContain("shutdown: 0 delayed reply(s) sent, 4 dropped")
      expect(logs).toContain("stopped: 104 datagram(s) received, 0 answered, 104 dropped")
      const after = ledger()
      expect({
        received: after.received - before.received,
        answered: after.answered - before.answered,
        dropped: after.dropped - before.dropped
      }).toEqual({ received: 104, answered: 0, dropped: 104 })
      expect(peer.received()).toEqual([])
    }))

  it.scopedLive("is quiet by default: its shutdown and last lines are routine (Debug)", () =>
    Effect.gen(function*() {
      const { layer: logger, logs } = capturedLogs(false)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(serverOn({ delay: 0 }).pipe(Layer.provide(logger)), scope)
      const socket = Context.get(context, UdpSocket.UdpSocket)
      const peer = yield* UdpPeer.open()
      peer.send("Ada", socket.address.port)
      yield* peer.waitFor(1)
      yield* Scope.close(scope, Exit.void)
      expect(logs).toEqual([])
    }))
})
