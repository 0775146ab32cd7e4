/**
 * A line-based chat room (`pnpm example:chat [--host HOST] [--port PORT]`): every line a client
 * sends goes to every other client, through a `PubSub`; the others are told when someone joins
 * or leaves. Each client has a bounded queue of lines on their way to it: a client that does not
 * read is disconnected, with a line saying why, when its queue overflows, and the room never
 * waits for it. Try it with `nc 127.0.0.1 7000` in a few terminals.
 */
import { Data, Effect, PubSub, Queue } from "effect"
import { formatAddress, Framing, TcpConnection, TcpListener } from "effect-net"
import { main, port, serve } from "../shared/main.js"

const usage = `
Usage: pnpm example:chat [--host HOST] [--port PORT]

A line-based chat room: each line a client sends goes to every other client.

Options:
  --host HOST   Address to listen on (default 127.0.0.1)
  --port PORT   Port to listen on, 0 for any free one (default 7000)
  -h, --help    Show this help
`

/** The longest line a client may send: a longer one gets an error line, and its client is let go. */
const maxLineBytes = 1024

/** Lines waiting for a client to take them: beyond, it is not reading, and is let go. */
const maxQueuedLines = 1024

/** A line said in the room, ready to be written, and who said it (who does not get it back). */
interface Said {
  readonly from: TcpConnection.Connection
  readonly bytes: Uint8Array
}

type Room = PubSub.PubSub<Said>

const encoder = new TextEncoder()
const line = (text: string) => encoder.encode(`${text}\n`)
const newline = line("")

/** A client's queue overflowed: it has stopped reading what the room says. */
class NotReadingError extends Data.TaggedError("NotReadingError")<{ readonly queued: number }> {
  override get message() {
    return `you are not reading (${this.queued} lines waiting)`
  }
}

/**
 * One client in the room, until it leaves (end of stream), sends a line too long, or stops
 * reading. Three loops, the first to end ends the others: its lines into the room; the room's
 * lines into its own queue (never waiting: a full queue fails with `NotReadingError`); its
 * queue to its socket.
 */
const session = (room: Room, connection: TcpConnection.Connection, name: string) =>
  Effect.gen(function*() {
    // Subscribed before anyone is told: no line said after the join is missed.
    const subscription = yield* PubSub.subscribe(room)
    const queue = yield* Queue.dropping<Uint8Array>(maxQueuedLines)
    yield* connection.write(line(`* welcome, you are ${name}`))
    yield* PubSub.publish(room, { from: connection, bytes: line(`* ${name} joined`) })

    const prefix = encoder.encode(`${name}: `)
    const talking = TcpConnection.runMessages(
      connection,
      Framing.lines({ maxLineBytes }),
      // `asVoid`: a handler's `false` would stop the reading, and `publish` says `false` for a line not taken.
      (message) => Effect.asVoid(PubSub.publish(room, { from: connection, bytes: Buffer.concat([prefix, message.body, newline]) })),
      { onFramingError: (error) => connection.write(line(`* error: ${error.message}`)) }
    )
    const queueing = Effect.forever(Effect.gen(function*() {
      const said = yield* Queue.takeBetween(subscription, 1, maxQueuedLines)
      const others = [...said].filter((line) => line.from !== connection).map((line) => line.bytes)
      if (!(yield* Queue.offerAll(queue, others))) yield* new NotReadingError({ queued: maxQueuedLines })
    }))
    // What is queued goes out in one write, which waits while the socket's buffer is full.
    const writing = Effect.forever(
      Effect.flatMap(Queue.takeBetween(queue, 1, maxQueuedLines), (lines) => connection.write(Buffer.concat([...lines])))
    )
    yield* talking.pipe(Effect.raceFirst(queueing), Effect.raceFirst(writing))
  })

/**
 * A client's conversation: the session, the others told it left (however it ended), and, when
 * it stopped reading, a last line for it to read if it ever does (within the write timeout).
 */
const handler = (room: Room) => (connection: TcpConnection.Connection) => {
  const name = formatAddress(connection.remote)
  return Effect.scoped(session(room, connection, name)).pipe(
    Effect.ensuring(PubSub.publish(room, { from: connection, bytes: line(`* ${name} left`) })),
    Effect.catchTag("NotReadingError", (error) => connection.write(line(`* disconnected: ${error.message}`)))
  )
}

main(usage, { options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "7000" } } }, ({ values }) =>
  Effect.gen(function*() {
    // No idle timeout: a client may listen to a quiet room for as long as it likes.
    const listener = TcpListener.layer({ host: values.host, port: yield* port("--port", values.port), idleTimeout: 0 })
    const room = yield* PubSub.unbounded<Said>()
    return yield* serve(handler(room)).pipe(Effect.provide(listener))
  }))
