import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger, LogLevel, Option, Schedule } from "effect"
import * as Net from "node:net"
import { formatAddress } from "../../src/address.js"
import * as Logging from "../../src/logging.js"
import * as PlatformSocketServer from "../../src/platform/socket-server.js"
import * as Peer from "../helpers/peer.js"
import { bundle, rss, start } from "../helpers/process.js"

const MB = 1024 * 1024
/** The most the flooding client writes: the platform's server takes it all in a second or two. */
const floodCap = 1024 * MB
const text = (data: Uint8Array) => Buffer.from(data).toString("latin1")

/** Waits until `check` holds (for 5 s at most). */
const until = (check: () => boolean) =>
  Effect.sleep("10 millis").pipe(
    Effect.repeat({ until: check }),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("timed out") })
  )

/** Runs `handler` on a PlatformSocketServer on a free port, in the test's scope; `logs` holds what it logged. */
const serve = <E>(
  handler: (socket: Socket.Socket) => Effect.Effect<void, E>,
  options: PlatformSocketServer.PlatformSocketServerOptions = {}
) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) =>
      logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    )
    const server = yield* PlatformSocketServer.make({ port: 0, ...options })
    // Its routine lines at Info, as the effect-net program has them (Debug by default).
    const running = yield* server.run(handler).pipe(
      Logging.withRoutineLevel(LogLevel.Info),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.forkScoped
    )
    return { port: (server.address as SocketServer.TcpAddress).port, address: server.address, logs, running }
  })

/**
 * Starts the flood fixture on `implementation`, floods it for 5 s with a client that never reads,
 * and returns what the client could write and how much the server's RSS grew at its peak.
 */
const flood = (implementation: "effect-net" | "platform") =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* start([process.execPath, yield* bundle("test/fixtures/socket-server-flood.ts"), implementation])
    const port = Number((yield* server.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m))[1])
    const pid = server.child.pid!
    // Warm up: one connection that sends a little and leaves.
    yield* Effect.async<void>((resume) => {
      const socket = Net.connect({ port, host: "127.0.0.1" }, () => socket.end("warm-up"))
      socket.on("close", () => resume(Effect.void)).on("error", () => {}).resume()
    })
    yield* Effect.sleep("300 millis")
    const baseline = rss(pid)
    let peak = baseline
    const sampler = yield* Effect.fork(
      Effect.sync(() => (peak = Math.max(peak, rss(pid)))).pipe(Effect.repeat(Schedule.spaced("50 millis")))
    )
    const client = yield* Peer.floodWithoutReading(port, floodCap, 5)
    yield* Effect.sleep("5200 millis")
    yield* Fiber.interrupt(sampler)
    return { written: client.written() / MB, growth: (peak - baseline) / MB }
  }))

describe("PlatformSocketServer", () => {
  it.scopedLive("serves each connection in a fiber of its own, its handler given a Socket and the peer's address", () =>
    Effect.gen(function*() {
      const { address, port } = yield* serve((socket) =>
        Effect.gen(function*() {
          const write = yield* socket.writer
          const peer = Option.map(yield* PlatformSocketServer.remoteAddress, formatAddress)
          yield* socket.run((data) =>
            Effect.zipRight(
              Effect.sleep(text(data) === "slow" ? "500 millis" : "0 millis"),
              write(`${text(data)} from ${Option.getOrElse(peer, () => "?")}`)
            )
          )
        }).pipe(Effect.scoped))
      expect(address).toEqual({ _tag: "TcpAddress", hostname: "127.0.0.1", port })
      const slow = yield* Peer.connect(port)
      const fast = yield* Peer.connect(port)
      yield* slow.write("slow")
      yield* fast.write("fast")
      yield* fast.waitFor(`fast from 127.0.0.1:${fast.socket.localPort}`)
      expect(slow.received()).toBe("")
      yield* slow.waitFor(`slow from 127.0.0.1:${slow.socket.localPort}`)
      // The handler is done once the peer has finished: the connection is flushed and closed.
      fast.socket.end()
      yield* fast.closed()
      expect(yield* PlatformSocketServer.remoteAddress).toEqual(Option.none())
    }))

  it.scopedLive("logs a handler's failure (a defect as an error, a reset of the peer as routine) and closes its connection", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* serve((socket) =>
        socket.run((data) => {
          switch (text(data)) {
            case "fail":
              return Effect.fail("it failed")
            case "die":
              return Effect.die(new Error("a bug"))
          }
        }))
      for (const input of ["fail", "die"]) {
        const peer = yield* Peer.connect(port)
        yield* peer.write(input)
        yield* peer.closed()
      }
      const reset = yield* Peer.connect(port)
      yield* Effect.sleep("50 millis")
      reset.socket.resetAndDestroy()
      yield* until(() => logs.some((line) => line.includes("ECONNRESET")))
      expect(logs).toContainEqual("WARN connection handler failed: it failed")
      expect(logs).toContainEqual("ERROR connection handler crashed")
      expect(logs).toContainEqual(expect.stringMatching(
        /^INFO An error occurred during Read: the connection with 127\.0\.0\.1:\d+ failed: connection reset by peer \(ECONNRESET\)$/
      ))
    }))

  it.scopedLive("the listener's options hold: a peer silent for the idle timeout is cut off", () =>
    Effect.gen(function*() {
      const { logs, port } = yield* serve((socket) => socket.run(() => {}), { idleTimeout: "200 millis" })
      const peer = yield* Peer.connect(port)
      yield* peer.closed()
      yield* until(() => logs.some((line) => line.includes("no data sent or received for 0.2 s (idle timeout)")))
    }))

  it.scopedLive("interrupting run shuts down gracefully: each run ends as at end of stream, its handler finishes and writes", () =>
    Effect.gen(function*() {
      const { port, running } = yield* serve((socket) =>
        Effect.gen(function*() {
          const write = yield* socket.writer
          // The writer needs no run: before it, and after it.
          yield* write("welcome;")
          yield* socket.run((data) => Effect.zipRight(Effect.sleep("300 millis"), write(`reply to ${text(data)};`)))
          yield* write("goodbye")
        }).pipe(Effect.scoped))
      const peer = yield* Peer.connect(port)
      yield* peer.waitFor("welcome;")
      yield* peer.write("Ada")
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(running)
      expect(yield* peer.closed()).toBe("welcome;reply to Ada;goodbye")
      // The port is released.
      const error = yield* Effect.flip(Peer.connect(port))
      expect(error.message).toContain("ECONNREFUSED")
    }))

  it.scopedLive("a port in use: SocketServerError with reason Open", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(() => Effect.void)
      const error = yield* Effect.flip(PlatformSocketServer.make({ port }))
      expect(error).toBeInstanceOf(SocketServer.SocketServerError)
      expect(error).toMatchObject({ reason: "Open", cause: { _tag: "TcpListenError", reason: "AddressInUse" } })
    }))

  it.live("a handler taking 50 ms per read, flooded by a client that never reads, holds the client back", () =>
    Effect.gen(function*() {
      const ours = yield* flood("effect-net")
      const platform = yield* flood("platform")
      const line = (name: string, { growth, written }: typeof ours) =>
        `${name.padEnd(20)} ${written.toFixed(1).padStart(7)} MB${written * MB >= floodCap ? " (all it had)" : ""}, server RSS +${growth.toFixed(1)} MB`
      console.log(`flooded for 5 s by a client that never reads; the handler takes 50 ms per read:
${line("PlatformSocketServer", ours)}
${line("NodeSocketServer", platform)}`)
      // The kernel's buffers and one read a handler holds, not what the client has.
      expect(ours.written).toBeLessThan(25)
      expect(ours.growth).toBeLessThan(30)
    }), 60_000)
})
