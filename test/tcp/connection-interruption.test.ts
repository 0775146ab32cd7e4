/**
 * The connection's contract under interruption, over real loopback sockets: interrupting a read
 * (a timeout, a race, `Stream.timeout`, `Stream.interruptWhen`, a fiber interrupted) at any point
 * loses, duplicates and reorders nothing, and nothing is read from the OS while no read waits.
 * Property-based: random chunks sent at random times against random schedules of reads and
 * interruptions, on an accepted connection, a server's own (its fiber's reads have no canceler),
 * a client's and a client's that reads into one buffer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, FastCheck as fc, Fiber, Option, Queue, Stream } from "effect"
import * as Net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import type { Message } from "../../src/framing/decoder.js"
import { lines } from "../../src/framing/lines.js"
import * as PlatformSocket from "../../src/platform/socket.js"
import * as TcpClient from "../../src/tcp/client.js"
import * as TcpConnection from "../../src/tcp/connection.js"
type Connection = TcpConnection.Connection
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import { listen } from "../helpers/servers.js"
import { portOf } from "../helpers/address.js"

/** One step of a reader: a plain read, an interrupted one, or a pause. */
type Op =
  | { readonly _tag: "read" }
  | { readonly _tag: "timeout"; readonly millis: number }
  | { readonly _tag: "race"; readonly millis: number }
  | { readonly _tag: "raceQueue"; readonly millis: number }
  | { readonly _tag: "interrupt"; readonly millis: number }
  | { readonly _tag: "streamTimeout"; readonly take: number; readonly millis: number }
  | { readonly _tag: "interruptWhen"; readonly take: number; readonly millis: number }
  | { readonly _tag: "pause"; readonly millis: number }
  | { readonly _tag: "platformRun"; readonly millis: number }

const millis = fc.integer({ min: 0, max: 4 })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ _tag: "read" } as const),
  millis.map((millis) => ({ _tag: "timeout", millis }) as const),
  millis.map((millis) => ({ _tag: "race", millis }) as const),
  millis.map((millis) => ({ _tag: "raceQueue", millis }) as const),
  millis.map((millis) => ({ _tag: "interrupt", millis }) as const),
  fc.record({ take: fc.integer({ min: 1, max: 4 }), millis }).map((o) => ({ _tag: "streamTimeout", ...o }) as const),
  fc.record({ take: fc.integer({ min: 1, max: 4 }), millis }).map((o) => ({ _tag: "interruptWhen", ...o }) as const),
  millis.map((millis) => ({ _tag: "pause", millis }) as const),
  millis.map((millis) => ({ _tag: "platformRun", millis }) as const)
)

/** What a peer sends: chunks, each after a pause. */
const sends = fc.array(
  fc.record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 3000 }), pause: fc.integer({ min: 0, max: 3 }) }),
  { minLength: 1, maxLength: 25 }
)
const schedule = fc.array(op, { minLength: 1, maxLength: 30 })

const concat = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts.map((part) => Buffer.from(part)))

/**
 * Runs `ops` against `connection` (each kind of interruption keeps what a completed read got),
 * then reads plainly until the end; returns every byte read.
 */
const readAll = (connection: Connection, ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const got: Array<Uint8Array> = []
    const keep = (bytes: Uint8Array | undefined) => {
      if (bytes !== undefined) got.push(Buffer.from(bytes))
    }
    const outbox = yield* Queue.unbounded<"tick">()
    // @effect/platform's Socket over the same connection: a later run goes on where the last stopped.
    const socket = PlatformSocket.fromConnection(connection)
    for (const step of ops) {
      switch (step._tag) {
        case "read":
          keep(yield* connection.read)
          break
        case "timeout":
          keep(Option.getOrUndefined(yield* Effect.timeout(connection.read, Duration.millis(step.millis)).pipe(Effect.option, Effect.map(Option.flatMap(Option.fromNullable)))))
          break
        case "race":
          keep(yield* Effect.race(connection.read, Effect.as(Effect.sleep(Duration.millis(step.millis)), undefined)))
          break
        case "raceQueue": {
          // The loop users write most: whichever comes first, a read or something to send.
          yield* Effect.fork(Effect.delay(Queue.offer(outbox, "tick"), Duration.millis(step.millis)))
          const first = yield* Effect.raceFirst(connection.read, Effect.as(Queue.take(outbox), "tick" as const))
          if (first !== "tick") keep(first)
          break
        }
        case "interrupt": {
          const fiber = yield* Effect.fork(connection.read)
          yield* Effect.sleep(Duration.millis(step.millis))
          const exit = yield* Fiber.interrupt(fiber)
          if (Exit.isSuccess(exit)) keep(exit.value)
          break
        }
        case "streamTimeout":
          for (const bytes of yield* Stream.runCollect(connection.reads.pipe(Stream.take(step.take), Stream.timeout(Duration.millis(step.millis))))) keep(bytes)
          break
        case "interruptWhen":
          for (const bytes of yield* Stream.runCollect(connection.reads.pipe(Stream.take(step.take), Stream.interruptWhen(Effect.sleep(Duration.millis(step.millis)))))) keep(bytes)
          break
        case "pause":
          yield* Effect.sleep(Duration.millis(step.millis))
          break
        case "platformRun":
          yield* Effect.timeout(socket.run((data) => keep(data)), Duration.millis(step.millis)).pipe(Effect.ignore)
          break
      }
    }
    for (let bytes = yield* connection.read; bytes !== undefined; bytes = yield* connection.read) keep(bytes)
    return concat(got)
  })

/** Sends each chunk after its pause, then half-closes. */
const send = async (socket: Net.Socket, chunks: ReadonlyArray<{ bytes: Uint8Array; pause: number }>) => {
  for (const { bytes, pause } of chunks) {
    if (pause > 0) await sleep(pause)
    socket.write(bytes)
  }
  socket.end()
}

const connectPeer = (port: number) =>
  new Promise<Net.Socket>((resolve, reject) => {
    const socket = Net.connect({ port, host: "127.0.0.1" }, () => resolve(socket)).once("error", reject)
  })

const runs = 120

describe("Connection interruption (property)", () => {
  it.scopedLive("an accepted connection: every byte once, in order, whatever interrupts its reads", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(sends, schedule, async (chunks, ops) => {
            const peer = await connectPeer(portOf(listener.address))
            const received = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const connection = yield* listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))
              yield* Effect.addFinalizer(() => connection.close)
              void send(peer, chunks)
              return yield* readAll(connection, ops)
            })))
            peer.destroy()
            expect(received.equals(concat(chunks.map((chunk) => chunk.bytes)))).toBe(true)
          }),
          { numRuns: runs }
        )
      )
    }), 120_000)

  it.scopedLive("a server's connection, read in its own fiber (no canceler) and in forked ones", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      const cases = yield* Queue.unbounded<{ ops: ReadonlyArray<Op>; result: Deferred.Deferred<Buffer> }>()
      yield* TcpServer.serve((connection) =>
        Effect.flatMap(Queue.take(cases), ({ ops, result }) => Effect.flatMap(readAll(connection, ops), (bytes) => Deferred.succeed(result, bytes)))
      ).pipe(Effect.provideService(TcpListener.TcpListener, listener), Effect.forkScoped)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(sends, schedule, async (chunks, ops) => {
            const deferred = await Effect.runPromise(Deferred.make<Buffer>())
            await Effect.runPromise(Queue.offer(cases, { ops, result: deferred }))
            const peer = await connectPeer(portOf(listener.address))
            void send(peer, chunks)
            const received = await Effect.runPromise(Deferred.await(deferred))
            peer.destroy()
            expect(received.equals(concat(chunks.map((chunk) => chunk.bytes)))).toBe(true)
          }),
          { numRuns: runs }
        )
      )
    }), 120_000)

  for (const readBufferBytes of [undefined, 4096]) {
    it.scopedLive(`a client's connection${readBufferBytes === undefined ? "" : " reading into one buffer"}: every byte once, in order`, () =>
      Effect.gen(function*() {
        let chunks: ReadonlyArray<{ bytes: Uint8Array; pause: number }> = []
        const port = yield* listen(Net.createServer((socket) => void send(socket, chunks)))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(sends, schedule, async (sent, ops) => {
              chunks = sent
              const received = await Effect.runPromise(Effect.scoped(Effect.flatMap(
                TcpClient.connect({ port, readBufferBytes }),
                (connection) => readAll(connection, ops)
              )))
              expect(received.equals(concat(sent.map((chunk) => chunk.bytes)))).toBe(true)
            }),
            { numRuns: runs / 2 }
          )
        )
      }), 120_000)
  }
})

describe("TcpConnection.messages (property)", () => {
  const lineTexts = fc.array(fc.stringMatching(/^[a-z]{0,40}$/), { minLength: 1, maxLength: 40 })
  const pulls = fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 40 })
  const splits = fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 })

  it.scopedLive("pulls interrupted at random keep the decoder's state and its decoded messages: every line once, in order", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(lineTexts, splits, pulls, async (sent, sizes, timeouts) => {
            const bytes = Buffer.from(sent.map((line) => `${line}\n`).join(""))
            const chunks: Array<{ bytes: Uint8Array; pause: number }> = []
            for (let offset = 0, i = 0; offset < bytes.length; i++) {
              const size = sizes[i % sizes.length]!
              chunks.push({ bytes: bytes.subarray(offset, offset + size), pause: i % 3 })
              offset += size
            }
            const peer = await connectPeer(portOf(listener.address))
            const got = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const connection = yield* listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))
              yield* Effect.addFinalizer(() => connection.close)
              void send(peer, chunks)
              const pull = TcpConnection.messages(connection, lines({ maxLineBytes: 1024 }))
              const messages: Array<Message> = []
              for (let i = 0;; i++) {
                const timeout = timeouts[i % timeouts.length]!
                const next = timeout < 0 ? Effect.map(pull.next, Option.some) : Effect.timeout(pull.next, Duration.millis(timeout)).pipe(Effect.option)
                const message = yield* next
                if (Option.isNone(message)) continue
                if (message.value === undefined) break
                messages.push(message.value)
              }
              return messages.map((message) => Buffer.from(message.body).toString())
            })))
            peer.destroy()
            expect(got).toEqual(sent)
          }),
          { numRuns: runs }
        )
      )
    }), 120_000)
})

describe("TcpConnection.readExactly (property)", () => {
  const sizes = fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 15 })
  const timeouts = fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 20 })

  it.scopedLive("reads of exact sizes, interrupted at random: every byte once, in order; short only at the end", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(sends, sizes, timeouts, async (chunks, wanted, waits) => {
            const peer = await connectPeer(portOf(listener.address))
            const got = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const connection = yield* listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))
              yield* Effect.addFinalizer(() => connection.close)
              void send(peer, chunks)
              const parts: Array<Uint8Array> = []
              for (let i = 0;; i++) {
                const n = wanted[i % wanted.length]!
                const wait = waits[i % waits.length]!
                const read = TcpConnection.readExactly(connection, n)
                const bytes = wait < 0 ? Option.some(yield* read) : yield* Effect.option(Effect.timeout(read, Duration.millis(wait)))
                if (Option.isNone(bytes)) continue
                parts.push(bytes.value)
                if (bytes.value.length < n) break
                if (n > 0) expect(bytes.value.length).toBe(n)
              }
              return concat(parts)
            })))
            peer.destroy()
            expect(got.equals(concat(chunks.map((chunk) => chunk.bytes)))).toBe(true)
          }),
          { numRuns: runs }
        )
      )
    }), 120_000)
})

describe("TcpConnection.writes", () => {
  it.scopedLive("writes each chunk of a stream, then half-closes", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0 })
      const peer = yield* Effect.promise(() => connectPeer(portOf(listener.address)))
      const received = new Promise<string>((resolve) => {
        let text = ""
        peer.setEncoding("latin1").on("data", (data: string) => (text += data)).on("end", () => resolve(text))
      })
      const connection = yield* listener.accept.pipe(Stream.runHead, Effect.map(Option.getOrThrow))
      yield* Stream.make("a", "bc", "def").pipe(Stream.map((text) => Buffer.from(text)), Stream.run(TcpConnection.writes(connection)))
      expect(yield* Effect.promise(() => received)).toBe("abcdef")
      peer.destroy()
    }))
})
