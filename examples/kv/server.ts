/**
 * A key-value service (`pnpm example:kv [--host HOST] [--port PORT]`) on length-prefixed frames
 * of Schema-typed JSON (see protocol.ts): each request answered in order, the values held in
 * memory. A frame over the size cap, or one that is not a request, is answered with an error,
 * then the connection is closed: after it, the stream cannot be trusted to be framed right.
 * Its client: client.ts (`pnpm example:kv-client`).
 */
import { Effect, HashMap, Option, Ref } from "effect"
import { TcpConnection, TcpListener } from "effect-net"
import { main, port, serve } from "../shared/main.js"
import * as Protocol from "./protocol.js"

const usage = `
Usage: pnpm example:kv [--host HOST] [--port PORT]

A key-value service on length-prefixed JSON frames (see pnpm example:kv-client).

Options:
  --host HOST   Address to listen on (default 127.0.0.1)
  --port PORT   Port to listen on, 0 for any free one (default 7001)
  -h, --help    Show this help
`

type Store = Ref.Ref<HashMap.HashMap<string, string>>

const answer = (store: Store, request: Protocol.Request): Effect.Effect<Protocol.Response> => {
  switch (request._tag) {
    case "Get":
      return Effect.map(Ref.get(store), (values) => Protocol.Value.make({ value: Option.getOrNull(HashMap.get(values, request.key)) }))
    case "Set":
      return Effect.as(Ref.update(store, HashMap.set(request.key, request.value)), Protocol.Stored.make({}))
  }
}

const send = (connection: TcpConnection.Connection, response: Protocol.Response) =>
  Effect.flatMap(Protocol.encodeResponse(response), connection.write)

const handler = (store: Store) => (connection: TcpConnection.Connection) =>
  TcpConnection.runMessages(
    connection,
    Protocol.requests(),
    (request) => Effect.flatMap(answer(store, request), (response) => send(connection, response)),
    // The error's message names the frame and what is wrong with it.
    { onFramingError: (error) => send(connection, Protocol.Failure.make({ message: error.message })) }
  )

main(usage, { options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "7001" } } }, ({ values }) =>
  Effect.gen(function*() {
    const listener = TcpListener.layer({ host: values.host, port: yield* port("--port", values.port) })
    const store = yield* Ref.make(HashMap.empty<string, string>())
    return yield* serve(handler(store)).pipe(Effect.provide(listener))
  }))
