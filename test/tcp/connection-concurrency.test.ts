/**
 * The connection's contract with several fibers, over real loopback sockets: any number of
 * writers and `end`s at once, each done when the socket took its bytes, which stay contiguous;
 * the write timeout only for a peer that stopped reading; reads from several fibers served one at
 * a time; members passed as plain functions.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, FastCheck as fc, Fiber, Option, Stream } from "effect"
import * as Net from "node:net"
import * as TcpListener from "../../src/tcp/listener.js"
import * as UdpSocket from "../../src/udp/socket.js"
import * as Peer from "../helpers/peer.js"
import { portOf } from "../helpers/address.js"

const acceptOne = (listener: TcpListener.TcpListener) => listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))

/** A listener, a test peer connected to it, and the connection it accepted. */
const pair = (options: TcpListener.TcpListenerOptions = {}) =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make({ port: 0, ...options })
    const peer = yield* Peer.connect(portOf(listener.address))
    const connection = yield* acceptOne(listener)
    return { listener, peer, connection }
  })

/** The same with a plain socket as the peer, paused (it reads nothing until resumed), for bytes rather than text. */
const rawPair = (options: TcpListener.TcpListenerOptions = {}) =>
  Effect.gen(function*() {
    const listener = yield* TcpListener.make({ port: 0, ...options })
    const socket = yield* Effect.acquireRelease(
      Effect.async<Net.Socket>((resume) => {
        const socket = Net.connect({ port: portOf(listener.address), host: "127.0.0.1", allowHalfOpen: true }, () => resume(Effect.succeed(socket)))
        socket.pause()
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    const connection = yield* acceptOne(listener)
    return { socket, connection }
  })

/**
 * A frame that tells whose write it is: writer, sequence number and length (4 bytes each, big-endian),
 * then `length` bytes of the writer's number, so that a frame cut or interleaved with another shows.
 */
const frame = (writer: number, sequence: number, length: number) => {
  const bytes = Buffer.alloc(12 + length, writer)
  bytes.writeUInt32BE(writer, 0)
  bytes.writeUInt32BE(sequence, 4)
  bytes.writeUInt32BE(length, 8)
  return bytes
}

/** Parses what a peer received into frames, failing on any frame that is not whole and alone. */
const parse = (bytes: Buffer): Array<{ writer: number; sequence: number }> => {
  const frames: Array<{ writer: number; sequence: number }> = []
  let offset = 0
  while (offset < bytes.length) {
    const writer = bytes.readUInt32BE(offset)
    const sequence = bytes.readUInt32BE(offset + 4)
    const length = bytes.readUInt32BE(offset + 8)
    const body = bytes.subarray(offset + 12, offset + 12 + length)
    if (body.length !== length || body.some((byte) => byte !== (writer & 0xff))) throw new Error(`frame ${writer}/${sequence} cut or mixed`)
    frames.push({ writer, sequence })
    offset += 12 + length
  }
  return frames
}

/** A raw peer that reads slowly (a pause after each read), and everything it got once the connection ends. */
const slowReader = (socket: Net.Socket, pause: () => number) =>
  new Promise<Buffer>((resolve) => {
    const parts: Array<Buffer> = []
    socket.on("data", (data: Buffer) => {
      parts.push(data)
      const millis = pause()
      if (millis > 0) {
        socket.pause()
        setTimeout(() => socket.resume(), millis)
      }
    })
    socket.on("end", () => resolve(Buffer.concat(parts)))
    socket.on("close", () => resolve(Buffer.concat(parts)))
  })

describe("Connection writes from several fibers", () => {
  it.scopedLive("two fibers writing 8 MiB each to a slow reader: all of it arrives, whole, then the connection ends", () =>
    Effect.gen(function*() {
      const { connection, socket } = yield* rawPair({ writeTimeout: "2 seconds" })
      const received = slowReader(socket, () => 0)
      socket.pause()
      setTimeout(() => socket.resume(), 300)
      const writer = (id: number) => Effect.forEach(Array.from({ length: 8 }, (_, i) => frame(id, i, 1024 * 1024 - 12)), (bytes) => connection.write(bytes))
      yield* Effect.all([writer(1), writer(2)], { concurrency: "unbounded" })
      yield* connection.end
      const frames = parse(yield* Effect.promise(() => received))
      expect(frames.length).toBe(16)
      for (const id of [1, 2]) expect(frames.filter((f) => f.writer === id).map((f) => f.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    }), 30_000)

  it.scopedLive("8 writes of 1 MB at once to a peer that reads a little late: all arrive, and the write timeout does not fire afterwards", () =>
    Effect.gen(function*() {
      const { connection, socket } = yield* rawPair({ writeTimeout: "1 second" })
      const received = slowReader(socket, () => 0)
      socket.pause()
      setTimeout(() => socket.resume(), 500)
      yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => frame(i + 1, 0, 1_000_000)), (bytes) => connection.write(bytes), {
        concurrency: "unbounded"
      })
      // Longer than the write timeout after the last wait: nothing armed may still fire.
      yield* Effect.sleep("1500 millis")
      yield* connection.write(frame(9, 0, 10))
      yield* connection.end
      const frames = parse(yield* Effect.promise(() => received))
      expect(frames.map((f) => f.writer).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    }), 30_000)

  it.scopedLive("end from several fibers at once, with writes waiting: each completes once everything is flushed", () =>
    Effect.gen(function*() {
      const { connection, socket } = yield* rawPair()
      const received = slowReader(socket, () => 0)
      socket.pause()
      const writing = yield* Effect.fork(connection.write(frame(1, 0, 4 * 1024 * 1024)))
      const ends = yield* Effect.fork(Effect.all([connection.end, connection.end, connection.end], { concurrency: "unbounded" }))
      yield* Effect.sleep("100 millis")
      expect(ends.unsafePoll()).toBeNull()
      socket.resume()
      yield* Fiber.join(writing)
      yield* Fiber.join(ends)
      expect(parse(yield* Effect.promise(() => received)).length).toBe(1)
    }), 30_000)

  it.scopedLive("a write whose wait is interrupted disturbs no other: the others complete, and the peer gets every write that was handed over", () =>
    Effect.gen(function*() {
      const { connection, socket } = yield* rawPair({ writeTimeout: "1 second" })
      const received = slowReader(socket, () => 0)
      socket.pause()
      const waiting = yield* Effect.forEach([1, 2, 3], (id) => Effect.fork(connection.write(frame(id, 0, 2 * 1024 * 1024))))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(waiting[1]!)
      setTimeout(() => socket.resume(), 200)
      yield* Fiber.join(waiting[0]!)
      yield* Fiber.join(waiting[2]!)
      // Past the write timeout: the interrupted waiter left no timer behind.
      yield* Effect.sleep("1200 millis")
      yield* connection.end
      // The interrupted write had handed its bytes to the socket: they are sent.
      expect(parse(yield* Effect.promise(() => received)).map((f) => f.writer)).toEqual([1, 2, 3])
    }), 30_000)

  it.live("any number of writers, their waits interrupted at random, against a peer reading with pauses: every frame whole, each writer's in order (property)", () =>
    Effect.scoped(Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, writeTimeout: "5 seconds" })
      const writes = fc.array(
        fc.array(fc.record({ length: fc.integer({ min: 0, max: 1_000_000 }), timeout: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), {
          minLength: 1,
          maxLength: 6
        }),
        { minLength: 1, maxLength: 4 }
      )
      const pauses = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(writes, pauses, async (writers, pauseList) => {
            const peer = Net.connect({ port: portOf(listener.address), host: "127.0.0.1", allowHalfOpen: true })
            let next = 0
            const received = slowReader(peer, () => pauseList[next++ % pauseList.length]!)
            const outcome = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const connection = yield* acceptOne(listener)
              yield* Effect.addFinalizer(() => connection.close)
              const completed = yield* Effect.forEach(writers, (chunks, id) =>
                Effect.forEach(chunks, ({ length, timeout }, sequence) => {
                  const write = Effect.suspend(() => connection.write(frame(id + 1, sequence, length)))
                  return (timeout === undefined ? write : Effect.timeout(write, Duration.millis(timeout))).pipe(
                    Effect.exit,
                    Effect.map((exit) => Exit.isSuccess(exit) ? sequence : -1)
                  )
                }), { concurrency: "unbounded" })
              // Still usable afterwards.
              yield* connection.write(frame(99, 0, 10))
              yield* connection.end
              return completed
            })))
            const frames = parse(await received)
            peer.destroy()
            expect(frames[frames.length - 1]).toEqual({ writer: 99, sequence: 0 })
            outcome.forEach((sequences, id) => {
              const got = frames.filter((f) => f.writer === id + 1).map((f) => f.sequence)
              // In order, none twice, and every write that completed among them.
              expect(got).toEqual([...got].sort((a, b) => a - b))
              expect(new Set(got).size).toBe(got.length)
              for (const sequence of sequences) if (sequence >= 0) expect(got).toContain(sequence)
            })
          }),
          { numRuns: 40 }
        )
      )
    })), 120_000)
})

describe("Connection reads from several fibers", () => {
  it.scopedLive("two reads at once: served one at a time, in order, each with its own bytes; neither hangs", () =>
    Effect.gen(function*() {
      const { connection, peer } = yield* pair()
      const first = yield* Effect.fork(connection.read)
      yield* Effect.sleep("20 millis")
      const second = yield* Effect.fork(connection.read)
      yield* Effect.sleep("20 millis")
      yield* peer.write("one")
      expect(Buffer.from((yield* Fiber.join(first))!).toString()).toBe("one")
      yield* Effect.sleep("20 millis")
      yield* peer.write("two")
      expect(Buffer.from((yield* Fiber.join(second))!).toString()).toBe("two")
    }))

  it.scopedLive("many readers at once, with some interrupted: every byte goes to exactly one of them", () =>
    Effect.gen(function*() {
      const { connection, peer } = yield* pair()
      const readers = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(connection.read))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(readers[3]!)
      yield* Fiber.interrupt(readers[7]!)
      const live = readers.filter((_, i) => i !== 3 && i !== 7)
      const got: Array<string> = []
      for (const [i, reader] of live.entries()) {
        yield* peer.write(`m${i};`)
        got.push(Buffer.from((yield* Fiber.join(reader))!).toString())
      }
      expect(got.join("")).toBe(live.map((_, i) => `m${i};`).join(""))
    }))

  it.scopedLive("while no read waits after an interrupted one, nothing is read from the OS", () =>
    Effect.gen(function*() {
      const { connection, peer } = yield* pair()
      const reading = yield* Effect.fork(connection.read)
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(reading)
      peer.socket.write(Buffer.alloc(8 * 1024 * 1024))
      yield* Effect.sleep("300 millis")
      // At most one read's worth was taken from the kernel, held for the next read.
      expect(connection.bytesRead()).toBeLessThanOrEqual(64 * 1024)
      let total = 0
      for (let bytes = yield* connection.read; bytes !== undefined && total + bytes.length < 8 * 1024 * 1024; bytes = yield* connection.read) total += bytes.length
    }))
})

describe("members as plain functions", () => {
  it.scopedLive("a connection's Effect-returning members work when passed point-free", () =>
    Effect.gen(function*() {
      const { connection, listener, peer } = yield* pair()
      const { write, unsafeWrite, bytesRead, bytesWritten } = connection
      yield* Stream.runForEach(Stream.make(Buffer.from("a"), Buffer.from("b")), connection.write)
      yield* Effect.forEach([Buffer.from("c")], write)
      expect(unsafeWrite(Buffer.from("d"))).toBeUndefined()
      yield* peer.waitFor("abcd")
      yield* peer.write("xy")
      const read = connection.read
      expect(Buffer.from((yield* read)!).toString()).toBe("xy")
      expect(bytesRead()).toBe(2)
      expect(bytesWritten()).toBe(4)
      const { end, close, stopReading } = connection
      yield* stopReading
      yield* end
      yield* close
      const { stopAccepting } = listener
      yield* stopAccepting
    }))

  it.scopedLive("a UDP socket's members too", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      const { send, received, receive } = socket
      yield* send(Buffer.from("hi"), socket.address)
      const datagrams = yield* receive
      expect(Chunk.size(datagrams)).toBe(1)
      expect(received()).toBe(1)
    }))
})
