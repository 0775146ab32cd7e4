/**
 * A TCP port forwarder (`pnpm example:forward --port PORT --to HOST:PORT`): each connection
 * accepted is joined to a new connection to the target, bytes copied both ways.
 * - Backpressure both ways: a connection is read only once the other has taken the last read,
 *   so a side that does not read stops the other from sending; nothing piles up in memory.
 * - A half-close passes on: the end of one side's bytes (its FIN) becomes an `end` on the other,
 *   while the other direction goes on.
 * - Idle both ways: every byte, either way, passes through the accepted connection, so the
 *   listener's idle timeout counts them all.
 * - Either side failing closes both: the handler fails, the server closes the accepted
 *   connection, and the handler's scope the target's. A target that cannot be reached shows
 *   as a warning on stderr (the server logs a handler's failure; a reset or a timeout, routine,
 *   only at Debug).
 */
import { Duration, Effect, Stream } from "effect"
import { TcpClient, TcpConnection, TcpListener } from "effect-net"
import { main, port, seconds, serve, UsageError } from "../shared/main.js"

const usage = `
Usage: pnpm example:forward --port PORT --to HOST:PORT [--host HOST] [--idle-timeout SECONDS]

Forwards each connection to PORT to HOST:PORT, both ways.

Options:
  --port PORT               Port to listen on, 0 for any free one
  --to HOST:PORT            Where to forward to ([::1]:80 for an IPv6 address)
  --host HOST               Address to listen on (default 127.0.0.1)
  --idle-timeout SECONDS    Close both connections once no byte moved either way for this
                            long; 0 never does (default ${Duration.toSeconds(TcpListener.defaults.idleTimeout)})
  -h, --help                Show this help
`

/** `HOST:PORT`, or `[IPv6]:PORT`. */
const target = (value: string) => {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value)
  if (match === null) return Effect.fail(new UsageError({ message: `--to must be HOST:PORT, got ${value}` }))
  return Effect.map(port("--to", match[2]!), (port) => ({ host: match[1]!, port }))
}

/** One direction: each read of `from` written to `to` once `to` took the last; its end, an `end`. */
const copy = (from: TcpConnection.Connection, to: TcpConnection.Connection) => Stream.run(from.reads, TcpConnection.writes(to))

const forward = (to: TcpClient.TcpClientOptions) => (accepted: TcpConnection.Connection) =>
  Effect.gen(function*() {
    const connected = yield* TcpClient.connect(to)
    yield* Effect.all([copy(accepted, connected), copy(connected, accepted)], { concurrency: 2, discard: true })
  })

main(usage, {
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    to: { type: "string" },
    "idle-timeout": { type: "string" }
  }
}, ({ values }) =>
  Effect.gen(function*() {
    if (values.port === undefined || values.to === undefined) {
      return yield* new UsageError({ message: "--port and --to are required (see --help)" })
    }
    const to = yield* target(values.to)
    const idle = values["idle-timeout"]
    const listener = TcpListener.layer({
      host: values.host,
      port: yield* port("--port", values.port),
      idleTimeout: idle === undefined ? undefined : Duration.seconds(yield* seconds("--idle-timeout", idle))
    })
    return yield* serve(forward(to)).pipe(Effect.provide(listener))
  }))
