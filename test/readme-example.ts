// The README's library example: test/readme.test.ts runs it and checks the README shows it verbatim.
import { Effect, Layer, Stream } from "effect"
import { Framing, TcpClient, TcpConnection, TcpGreetingClient, TcpGreetingServer, TcpListener, TcpServer } from "effect-net"

// The greeting server on a free port, as a layer: its scope owns the listener and every connection.
const ServerLive = TcpGreetingServer.layer({ delay: 0 }).pipe(
  Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 }))
)

// A client connection to wherever that listener was bound.
const ClientLive = Layer.unwrapEffect(
  Effect.map(TcpListener.TcpListener, ({ address }) =>
    TcpClient.layer(address._tag === "TcpAddress" ? { port: address.port } : { path: address.path })
  )
)

// The conversation, with the server and the client provided: one self-contained program.
export const program = TcpGreetingClient.converse({ names: ["Ada", "Grace"] }).pipe(
  Stream.runCollect,
  Effect.provide(ClientLive),
  Effect.provide(ServerLive)
)

// Your own protocol on the same transport: each line back in capitals, until "bye".
const shout = (connection: TcpConnection.Connection) =>
  TcpConnection.runMessages(connection, Framing.lines(), (message) => {
    const line = new TextDecoder().decode(message.body)
    return line === "bye" ? false : connection.write(new TextEncoder().encode(line.toUpperCase() + "\n"))
  })

export const ShoutLive = TcpServer.layer(shout).pipe(
  Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 }))
)
