// @effect/platform's Ndjson and MsgPack channels over a connection's `reads`, as docs/protocols.md
// shows them: over real loopback sockets, messages split anywhere across reads, replies written
// through the `writes` Sink, and reads pulled with backpressure.
import * as MsgPack from "@effect/platform/MsgPack"
import * as Ndjson from "@effect/platform/Ndjson"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Deferred, Effect, Layer, Schema, Stream } from "effect"
import { TcpConnection, TcpListener, TcpServer } from "effect-net"
import * as Net from "node:net"
import { portOf } from "../helpers/address.js"
import * as Peer from "../helpers/peer.js"

const Request = Schema.Struct({ id: Schema.Number, name: Schema.String })
const Reply = Schema.Struct({ id: Schema.Number, greeting: Schema.String })
const greet = ({ id, name }: typeof Request.Type): typeof Reply.Type => ({ id, greeting: `Hello, ${name}!` })

/** Serves `handler` on a free port for the scope; returns the port. */
const serve = <E>(handler: (connection: TcpConnection.Connection) => Effect.Effect<void, E>, options: TcpServer.TcpServerOptions = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(TcpServer.layer(handler, options).pipe(Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 }))))
    return portOf(Context.get(context, TcpListener.TcpListener).address)
  })

/** Writes `pieces` one by one, each given time to arrive as a read of its own, then half-closes. */
const sendInPieces = (peer: Peer.Peer, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    for (const piece of pieces) {
      yield* peer.write(piece)
      yield* Effect.sleep("50 millis")
    }
    peer.socket.end()
  })

/** `bytes` cut at each of `at`. */
const cut = (bytes: Uint8Array, ...at: ReadonlyArray<number>): Array<Uint8Array> =>
  [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length))

const utf8 = (text: string) => new TextEncoder().encode(text)
const latin1 = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))

/** The route the guide shows: text decoded as a stream (characters split across reads stay whole), then lines of JSON. */
const ndjsonGreeter = (connection: TcpConnection.Connection) =>
  connection.reads.pipe(
    Stream.decodeText(),
    Stream.pipeThroughChannelOrFail(Ndjson.unpackSchemaString(Request)()),
    Stream.map(greet),
    Stream.pipeThroughChannelOrFail(Ndjson.packSchema(Reply)()),
    Stream.run(TcpConnection.writes(connection))
  )

const msgpackGreeter = (connection: TcpConnection.Connection) =>
  connection.reads.pipe(
    Stream.pipeThroughChannelOrFail(MsgPack.unpackSchema(Request)()),
    Stream.map(greet),
    Stream.pipeThroughChannelOrFail(MsgPack.packSchema(Reply)()),
    Stream.run(TcpConnection.writes(connection))
  )

describe("Ndjson over reads", () => {
  it.scopedLive("answers each line, lines and characters split across reads, in order; ends when the peer does", () =>
    Effect.gen(function*() {
      const port = yield* serve(ndjsonGreeter)
      const peer = yield* Peer.connect(port)
      const input = utf8(`{"id":1,"name":"Ada"}\n{"id":2,"name":"Zoë"}\n{"id":3,"name":"Grace"}\n`)
      // Inside the first line, inside "ë" (two bytes in UTF-8), just before the last newline.
      const e = input.indexOf(0xc3)
      yield* sendInPieces(peer, cut(input, 9, e + 1, input.length - 1))
      const replies = Buffer.from(yield* peer.closed(), "latin1").toString("utf8")
      expect(replies).toBe(
        `{"id":1,"greeting":"Hello, Ada!"}\n{"id":2,"greeting":"Hello, Zoë!"}\n{"id":3,"greeting":"Hello, Grace!"}\n`
      )
    }))

  it.scopedLive("Ndjson.unpackSchema (bytes in) decodes each read on its own: ASCII split anywhere is fine, a character split across reads is not (@effect/platform 0.97)", () =>
    Effect.gen(function*() {
      const port = yield* serve((connection) =>
        connection.reads.pipe(
          Stream.pipeThroughChannelOrFail(Ndjson.unpackSchema(Request)()),
          Stream.map(greet),
          Stream.pipeThroughChannelOrFail(Ndjson.packSchema(Reply)()),
          Stream.run(TcpConnection.writes(connection))
        )
      )
      const peer = yield* Peer.connect(port)
      const input = utf8(`{"id":1,"name":"Ada"}\n{"id":2,"name":"Zoë"}\n`)
      yield* sendInPieces(peer, cut(input, 9, input.indexOf(0xc3) + 1))
      const replies = Buffer.from(yield* peer.closed(), "latin1").toString("utf8")
      expect(replies).toBe(`{"id":1,"greeting":"Hello, Ada!"}\n{"id":2,"greeting":"Hello, Zo\uFFFD\uFFFD!"}\n`)
    }))

  it.scopedLive("backpressure: while the handler is busy with a message, the peer's later lines wait in the kernel, not in the server", () =>
    Effect.gen(function*() {
      const served = yield* Deferred.make<TcpConnection.Connection>()
      const port = yield* serve((connection) =>
        Effect.zipRight(
          Deferred.succeed(served, connection),
          connection.reads.pipe(
            Stream.decodeText(),
            Stream.pipeThroughChannelOrFail(Ndjson.unpackSchemaString(Request)()),
            // The first message is never done with.
            Stream.mapEffect(() => Effect.never),
            Stream.runDrain
          )
        ), { shutdownGrace: 0 })
      const line = `{"id":1,"name":"${"x".repeat(100)}"}\n`
      const block = Buffer.from(line.repeat(Math.floor(64 * 1024 / line.length)))
      const total = 64 * 1024 * 1024
      const socket = yield* Effect.acquireRelease(
        Effect.sync(() => Net.connect({ port, host: "127.0.0.1" })),
        (socket) => Effect.sync(() => socket.destroy())
      )
      let written = 0
      const pump = () => {
        while (written < total) {
          written += block.length
          if (!socket.write(block)) return void socket.once("drain", pump)
        }
      }
      socket.on("error", () => {})
      socket.once("connect", pump)
      const connection = yield* Deferred.await(served)
      yield* Effect.sleep("1 second")
      // The client is held back (the kernel's buffers are full, its writes wait for 'drain'), and
      // the server read a few reads' worth of what it sent, no more.
      expect(written).toBeLessThan(total)
      expect(connection.bytesRead()).toBeLessThan(1024 * 1024)
    }))
})

describe("MsgPack over reads", () => {
  it.scopedLive("answers each message, messages split across reads, in order; ends when the peer does", () =>
    Effect.gen(function*() {
      const port = yield* serve(msgpackGreeter)
      const peer = yield* Peer.connect(port)
      const requests = [{ id: 1, name: "Ada" }, { id: 2, name: "Zoë" }, { id: 3, name: "Grace" }]
      // The client's side packs with the same channel.
      const packed = yield* Stream.fromIterable(requests).pipe(
        Stream.pipeThroughChannelOrFail(MsgPack.packSchema(Request)()),
        Stream.runCollect
      )
      const input = Buffer.concat([...packed])
      yield* sendInPieces(peer, cut(input, 3, 11, input.length - 2))
      const received = latin1(yield* peer.closed())
      const replies = yield* Stream.make(received).pipe(
        Stream.pipeThroughChannelOrFail(MsgPack.unpackSchema(Reply)()),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(replies)).toEqual(requests.map(greet))
    }))
})
