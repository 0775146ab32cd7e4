// The README's @effect/rpc example: test/platform/rpc.test.ts runs it, test/readme.test.ts checks the README shows it verbatim.
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Schema } from "effect"
import { PlatformSocket, PlatformSocketServer } from "effect-net"

// The service: its RPCs (schemas) and their handlers.
export class Greeter extends RpcGroup.make(
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })
) {}
const GreeterLive = Greeter.toLayer({ Greet: ({ name }) => Effect.succeed(`Hello, ${name}!`) })

// Served, ndjson on the wire, on a SocketServer, which it also provides (for its address).
export const serve = <E>(socketServer: Layer.Layer<SocketServer.SocketServer, E>) =>
  RpcServer.layer(Greeter).pipe(
    Layer.provide(GreeterLive),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provideMerge(socketServer),
    Layer.provide(RpcSerialization.layerNdjson)
  )

// The client's side: the RPC protocol over a Socket, which it runs again to reconnect.
export const connect = <E>(socket: (port: number) => Layer.Layer<Socket.Socket, E>) =>
  Layer.unwrapEffect(Effect.map(SocketServer.SocketServer, ({ address }) =>
    RpcClient.layerProtocolSocket().pipe(
      Layer.provide(socket((address as SocketServer.TcpAddress).port)),
      Layer.provide(RpcSerialization.layerNdjson)
    )))

// effect-net on both sides: its listener on a free port, and a client that dials it with TcpClient.
export const ServerLive = serve(PlatformSocketServer.layer({ host: "127.0.0.1", port: 0 }))
export const ClientLive = connect((port) => PlatformSocket.layerNet({ host: "127.0.0.1", port }))

// Calls `Greet` for each name, `concurrency` calls in flight at once.
export const greetAll = (names: ReadonlyArray<string>, concurrency: number) =>
  Effect.gen(function*() {
    const greeter = yield* RpcClient.make(Greeter)
    return yield* Effect.forEach(names, (name) => greeter.Greet({ name }), { concurrency })
  }).pipe(Effect.scoped)

export const program = greetAll(["Ada", "Grace"], 2).pipe(Effect.provide(ClientLive), Effect.provide(ServerLive))
