// The protocol guide's examples (docs/protocols.md shows each part verbatim: test/readme.test.ts
// checks it, and runs them over loopback).
import * as MsgPack from "@effect/platform/MsgPack"
import * as Ndjson from "@effect/platform/Ndjson"
import { Data, Duration, Effect, Option, Schema, Stream } from "effect"
import { Framing, TcpConnection } from "effect-net"

// The messages, typed by Schemas: what a client asks, and what the server answers.
export const Request = Schema.Struct({ id: Schema.Number, name: Schema.String })
export const Reply = Schema.Union(
  Schema.TaggedStruct("Greeting", { id: Schema.Number, text: Schema.String }),
  Schema.TaggedStruct("Refused", { reason: Schema.String })
)

// Length-prefixed frames (a 2-byte length, payloads of at most 16 KiB) of JSON: the decoder and
// the encoder take the same options, so they speak the same frames.
const framing: Framing.LengthPrefixedOptions = { lengthBytes: 2, maxFrameBytes: 16 * 1024 }
const requests = () => Framing.schemaJson(Request, Framing.lengthPrefixed(framing))
const encodeReply = Framing.encodeSchemaJson(Reply, Framing.encodeLengthPrefixed(framing))

// The server's conversation, on runMessages: each request answered in order. A frame too large,
// or one that is not a Request, gets a last reply saying why, then the connection is closed.
export const greeter = (connection: TcpConnection.Connection) =>
  TcpConnection.runMessages(
    connection,
    requests(),
    (request) => Effect.flatMap(encodeReply({ _tag: "Greeting", id: request.id, text: `Hello, ${request.name}!` }), connection.write),
    { onFramingError: (error) => Effect.flatMap(encodeReply({ _tag: "Refused", reason: error.message }), connection.write) }
  )

// The client's side: the same framing the other way round. It sends every request, half-closes,
// and pulls the replies one at a time until the server ends the connection.
const replies = () => Framing.schemaJson(Reply, Framing.lengthPrefixed(framing))
const encodeRequest = Framing.encodeSchemaJson(Request, Framing.encodeLengthPrefixed(framing))

export const greetAll = (connection: TcpConnection.Connection, names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const [id, name] of names.entries()) yield* Effect.flatMap(encodeRequest({ id, name }), connection.write)
    yield* connection.end
    const incoming = TcpConnection.messages(connection, replies())
    const received: Array<typeof Reply.Type> = []
    for (let reply = yield* incoming.next; reply !== undefined; reply = yield* incoming.next) received.push(reply)
    return received
  })

// Lines, with a nudge after a silence: a `next` cut short by the timeout loses nothing (not even
// half a line the decoder holds), and the next pull goes on from there.
export const patient = (silence: Duration.DurationInput) => (connection: TcpConnection.Connection) =>
  Effect.gen(function*() {
    const lines = TcpConnection.messages(connection, Framing.lines({ maxLineBytes: 1024 }))
    while (true) {
      const next = yield* Effect.timeoutOption(lines.next, silence)
      if (Option.isNone(next)) {
        yield* connection.write(new TextEncoder().encode("still there?\n"))
        continue
      }
      const line = next.value
      if (line === undefined) return
      yield* connection.write(new TextEncoder().encode(`you said: ${new TextDecoder().decode(line.body)}\n`))
    }
  })

// Fixed-size pieces with readExactly: a 4-byte big-endian length, then that many bytes (capped
// here: readExactly itself gathers whatever it is asked for). `undefined` once the peer is done.
export class RecordTooLarge extends Data.TaggedError("RecordTooLarge")<{ readonly length: number }> {}

export const readRecord = (connection: TcpConnection.Connection) =>
  Effect.gen(function*() {
    const header = yield* TcpConnection.readExactly(connection, 4)
    if (header.length < 4) return undefined
    const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
    if (length > 64 * 1024) return yield* new RecordTooLarge({ length })
    return yield* TcpConnection.readExactly(connection, length)
  })

// The Stream way: any decoder over `reads` with Framing.frame, then Stream operators, and the
// replies into the `writes` Sink (which half-closes at the end). NUL-delimited frames back in capitals.
const encodeFrame = Framing.encodeDelimited({ delimiter: "\0" })

export const shout = (connection: TcpConnection.Connection) =>
  connection.reads.pipe(
    Framing.frame(() => Framing.delimited({ delimiter: "\0", maxFrameBytes: 4096 })),
    Stream.map((frame) => new TextEncoder().encode(new TextDecoder().decode(frame.body).toUpperCase())),
    Stream.mapEffect(encodeFrame),
    Stream.run(TcpConnection.writes(connection))
  )

// @effect/platform's Ndjson over `reads`: text decoded as a stream first (a character split
// across two reads stays whole), then one Request per line in, one reply per line out.
const greet = ({ id, name }: typeof Request.Type): typeof Reply.Type => ({ _tag: "Greeting", id, text: `Hello, ${name}!` })

export const ndjsonGreeter = (connection: TcpConnection.Connection) =>
  connection.reads.pipe(
    Stream.decodeText(),
    Stream.pipeThroughChannelOrFail(Ndjson.unpackSchemaString(Request)()),
    Stream.map(greet),
    Stream.pipeThroughChannelOrFail(Ndjson.packSchema(Reply)()),
    Stream.run(TcpConnection.writes(connection))
  )

// The same with MsgPack.
export const msgpackGreeter = (connection: TcpConnection.Connection) =>
  connection.reads.pipe(
    Stream.pipeThroughChannelOrFail(MsgPack.unpackSchema(Request)()),
    Stream.map(greet),
    Stream.pipeThroughChannelOrFail(MsgPack.packSchema(Reply)()),
    Stream.run(TcpConnection.writes(connection))
  )

// NDJSON with a cap on each line, from effect-net's own codecs: a line over 64 KiB fails with
// LineTooLongError instead of being held.
export const cappedRequests = () => Framing.schemaJson(Request, Framing.lines({ maxLineBytes: 64 * 1024 }))
export const encodeLine = Framing.encodeSchemaJson(Reply, Framing.encodeDelimited({ delimiter: "\n", maxFrameBytes: 64 * 1024 }))
