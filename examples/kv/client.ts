/**
 * The key-value service's client (`pnpm example:kv-client [--host HOST] [--port PORT] get KEY`,
 * or `set KEY VALUE`): one request, its response printed (a value, or `OK`), then it closes.
 * A value too large for a frame is refused here, before anything is sent.
 */
import { Console, Data, Effect } from "effect"
import { TcpClient, TcpConnection } from "effect-net"
import { main, port, UsageError } from "../shared/main.js"
import * as Protocol from "./protocol.js"

const usage = `
Usage: pnpm example:kv-client [--host HOST] [--port PORT] get KEY
       pnpm example:kv-client [--host HOST] [--port PORT] set KEY VALUE

Asks the key-value service (pnpm example:kv) for a key's value, or sets it.

Options:
  --host HOST   The server's address (default 127.0.0.1)
  --port PORT   The server's port (default 7001)
  -h, --help    Show this help
`

/** What the server answered, when it is not what was asked. */
class KvError extends Data.TaggedError("KvError")<{ readonly message: string }> {}

const request = (args: ReadonlyArray<string>): Effect.Effect<Protocol.Request, UsageError> => {
  const [command, key, value, ...rest] = args
  if (command === "get" && key !== undefined && value === undefined) return Effect.succeed(Protocol.GetRequest.make({ key }))
  if (command === "set" && key !== undefined && value !== undefined && rest.length === 0) {
    return Effect.succeed(Protocol.SetRequest.make({ key, value }))
  }
  return Effect.fail(new UsageError({ message: "expected get KEY, or set KEY VALUE (see --help)" }))
}

const show = (asked: Protocol.Request, response: Protocol.Response | undefined) => {
  if (response === undefined) return new KvError({ message: "the server closed the connection without answering" })
  switch (response._tag) {
    case "Value":
      return response.value === null ? new KvError({ message: `${asked.key} is not set` }) : Console.log(response.value)
    case "Stored":
      return Console.log("OK")
    case "Error":
      return new KvError({ message: `the server refused the request: ${response.message}` })
  }
}

main(usage, {
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "7001" } },
  allowPositionals: true
}, ({ positionals, values }) =>
  Effect.scoped(Effect.gen(function*() {
    const server = { host: values.host, port: yield* port("--port", values.port) }
    const asked = yield* request(positionals)
    const frame = yield* Protocol.encodeRequest(asked)
    const connection = yield* TcpClient.connect(server)
    yield* connection.write(frame)
    const response = yield* TcpConnection.messages(connection, Protocol.responses()).next
    yield* show(asked, response)
  })))
