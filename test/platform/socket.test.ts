import * as Socket from "@effect/platform/Socket"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import type * as Net from "node:net"
import * as PlatformSocket from "../../src/platform/socket.js"
import { freePort } from "../helpers/process.js"
import { fullBacklog, tcpServer } from "../helpers/servers.js"

const text = (data: Uint8Array) => Buffer.from(data).toString("latin1")

/** A node:net server; `next` takes its next connection, whose received bytes `received` gives. */
const server = Effect.gen(function*() {
  const sockets = yield* Queue.unbounded<Net.Socket>()
  const received = new WeakMap<Net.Socket, string>()
  const port = yield* tcpServer((socket) => {
    received.set(socket, "")
    socket.on("data", (data: Buffer) => received.set(socket, received.get(socket) + data.toString("latin1")))
    Queue.unsafeOffer(sockets, socket)
  })
  return { port, next: Queue.take(sockets), received: (socket: Net.Socket) => received.get(socket) ?? "" }
})

/** Waits until `check` holds (for 5 s at most). */
const until = (check: () => boolean) =>
  Effect.sleep("10 millis").pipe(Effect.repeat({ until: check }), Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("timed out") }))

/** Waits until the peer has ended the connection (FIN or reset). */
const ended = (socket: Net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.readableEnded || socket.destroyed) return resume(Effect.void)
    socket.once("end", () => resume(Effect.void)).once("close", () => resume(Effect.void))
  })

describe("PlatformSocket.makeNet", () => {
  it.scopedLive("handles one read at a time, in order: the next read is pulled once the handler's Effect is done", () =>
    Effect.gen(function*() {
      const { next, port, received } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      let active = 0
      let mostActive = 0
      const running = yield* Effect.fork(socket.run((data) =>
        Effect.gen(function*() {
          mostActive = Math.max(mostActive, ++active)
          // The first read takes longest: with a fiber per read, its reply would come last.
          yield* Effect.sleep(text(data).includes("1") ? "150 millis" : "10 millis")
          yield* write(`<${text(data)}>`)
          active--
        })
      ))
      const peer = yield* next
      for (const part of ["1", "2", "3", "4"]) {
        peer.write(part)
        yield* Effect.sleep("20 millis")
      }
      yield* until(() => received(peer).replace(/[<>]/g, "") === "1234")
      expect(received(peer).startsWith("<1")).toBe(true)
      expect(mostActive).toBe(1)
      peer.end()
      yield* Fiber.join(running)
    }))

  it.scopedLive("dials anew for each run, runs onOpen once connected, and its writer waits for a run", () =>
    Effect.gen(function*() {
      const { next, port, received } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      const early = yield* Effect.fork(write("early;"))
      yield* Effect.sleep("100 millis")
      expect(early.unsafePoll()).toBeNull()

      for (const round of [1, 2]) {
        const running = yield* Effect.fork(socket.run(() => {}, { onOpen: write(`open ${round};`).pipe(Effect.orDie) }))
        const peer = yield* next
        if (round === 1) yield* Fiber.join(early)
        yield* until(() => received(peer).includes(`open ${round};`))
        expect(received(peer).length).toBe(round === 1 ? "early;open 1;".length : "open 2;".length)
        peer.end()
        yield* Fiber.join(running)
        // The run is over: its connection is closed (after our FIN), and writes wait for the next run.
        yield* ended(peer)
      }
    }))

  it.scopedLive("when the peer finishes sending, returns once the last handler is done, whose reply still goes out", () =>
    Effect.gen(function*() {
      const { next, port, received } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      const running = yield* Effect.fork(socket.run((data) =>
        Effect.zipRight(Effect.sleep("100 millis"), write(`reply to ${text(data)}`))
      ))
      const peer = yield* next
      peer.end("last")
      yield* Fiber.join(running)
      yield* ended(peer)
      expect(received(peer)).toBe("reply to last")
    }))

  it.scopedLive("runRaw is run: it hands over bytes; a string written goes out as UTF-8", () =>
    Effect.gen(function*() {
      const { next, port, received } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      const reads: Array<string | Uint8Array> = []
      const running = yield* Effect.fork(socket.runRaw((data) => {
        reads.push(data)
      }))
      const peer = yield* next
      yield* write("héllo")
      peer.end("bytes")
      yield* Fiber.join(running)
      expect(reads.every((data) => data instanceof Uint8Array)).toBe(true)
      expect(Buffer.concat(reads as Array<Uint8Array>).toString()).toBe("bytes")
      expect(Buffer.from(received(peer), "latin1").toString("utf8")).toBe("héllo")
    }))

  it.scopedLive("a write waits while the peer does not read", () =>
    Effect.gen(function*() {
      const { next, port } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      yield* Effect.fork(socket.run(() => {}))
      const peer = yield* next
      peer.pause()
      const big = yield* Effect.fork(write(new Uint8Array(32 * 1024 * 1024)))
      yield* Effect.sleep("300 millis")
      expect(big.unsafePoll()).toBeNull()
      peer.resume()
      yield* Fiber.join(big)
    }))

  it.scopedLive("releasing the writer half-closes the connection, as the platform's", () =>
    Effect.gen(function*() {
      const { next, port, received } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const running = yield* Effect.fork(socket.run(() => {}))
      const peer = yield* next
      yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("bye")))
      yield* ended(peer)
      expect(received(peer)).toBe("bye")
      peer.end()
      yield* Fiber.join(running)
    }))
})

describe("PlatformSocket errors", () => {
  it.scopedLive("connection refused: reason Open", () =>
    Effect.gen(function*() {
      const port = yield* freePort()
      const socket = yield* PlatformSocket.makeNet({ port })
      const error = yield* Effect.flip(socket.run(() => {}))
      expect(error).toBeInstanceOf(Socket.SocketGenericError)
      expect(error).toMatchObject({ reason: "Open", cause: { _tag: "TcpConnectError", reason: "Refused" } })
    }))

  it.scopedLive("connect timeout: reason OpenTimeout", () =>
    Effect.gen(function*() {
      const port = yield* fullBacklog()
      const socket = yield* PlatformSocket.makeNet({ port, connectTimeout: "300 millis" })
      const error = yield* Effect.flip(socket.run(() => {}))
      expect(error).toMatchObject({ reason: "OpenTimeout", cause: { _tag: "TcpConnectError", reason: "Timeout" } })
    }))

  it.scopedLive("a reset while run waits for a read: reason Read", () =>
    Effect.gen(function*() {
      const { next, port } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const running = yield* Effect.fork(socket.run(() => {}))
      const peer = yield* next
      yield* Effect.sleep("50 millis")
      peer.resetAndDestroy()
      const error = yield* Effect.flip(Fiber.join(running))
      expect(error).toMatchObject({ reason: "Read", cause: { _tag: "TcpSocketError" } })
      expect(String(error.cause)).toContain("ECONNRESET")
    }))

  it.scopedLive("a reset while a handler runs: the handler's writes fail with reason Write, and so does run", () =>
    Effect.gen(function*() {
      const { next, port } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      const running = yield* Effect.fork(socket.run(() =>
        // The peer resets during the pause; the reset is seen by the first write or the second.
        Effect.sleep("200 millis").pipe(
          Effect.zipRight(write("a")),
          Effect.zipRight(Effect.sleep("50 millis")),
          Effect.zipRight(write("b"))
        )
      ))
      const peer = yield* next
      peer.write("go")
      yield* Effect.sleep("50 millis")
      peer.resetAndDestroy()
      const error = yield* Effect.flip(Fiber.join(running))
      expect(error).toMatchObject({ reason: "Write", cause: { _tag: "TcpSocketError" } })
    }))

  const closes = [
    { event: new Socket.CloseEvent(), closeCodeIsError: undefined, fails: false },
    { event: new Socket.CloseEvent(1006), closeCodeIsError: undefined, fails: false },
    { event: new Socket.CloseEvent(4000, "going away"), closeCodeIsError: undefined, fails: true },
    { event: new Socket.CloseEvent(4000, "going away"), closeCodeIsError: () => false, fails: false }
  ]
  for (const { closeCodeIsError, event, fails } of closes) {
    const name = `${event}${closeCodeIsError ? " (closeCodeIsError: never)" : ""}`
    it.scopedLive(`a CloseEvent ${name} sends what was written before it, closes, and ${fails ? "fails" : "ends"} run`, () =>
      Effect.gen(function*() {
        const { next, port, received } = yield* server
        const socket = yield* PlatformSocket.makeNet({ port, closeCodeIsError })
        const write = yield* socket.writer
        const running = yield* Effect.fork(socket.run((data) =>
          Effect.zipRight(write(`last words to ${text(data)}`), write(event))
        ))
        const peer = yield* next
        peer.write("you")
        yield* ended(peer)
        expect(received(peer)).toBe("last words to you")
        const exit = yield* Fiber.await(running)
        if (fails) {
          expect(exit).toMatchObject({ _tag: "Failure" })
          const error = yield* Effect.flip(exit)
          expect(error).toBeInstanceOf(Socket.SocketCloseError)
          expect(error).toMatchObject({ reason: "Close", code: 4000, closeReason: "going away" })
        } else {
          expect(exit._tag).toBe("Success")
        }
      }))
  }

  it.scopedLive("a CloseEvent written while run waits for a read ends it at once", () =>
    Effect.gen(function*() {
      const { next, port } = yield* server
      const socket = yield* PlatformSocket.makeNet({ port })
      const write = yield* socket.writer
      const running = yield* Effect.fork(socket.run(() => {}))
      const peer = yield* next
      yield* write(new Socket.CloseEvent(4001))
      const error = yield* Effect.flip(Fiber.join(running))
      expect(error).toMatchObject({ reason: "Close", code: 4001 })
      yield* ended(peer)
    }))
})
