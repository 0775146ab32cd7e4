import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Option, Schedule, Schema, Scope } from "effect"
import * as PlatformSocket from "../../src/platform/socket.js"
import * as PlatformSocketServer from "../../src/platform/socket-server.js"
import * as Peer from "../helpers/peer.js"
import { freePort } from "../helpers/process.js"
import { ClientLive, connect, greetAll, program, serve, ServerLive } from "../readme-rpc-example.js"

const names = Array.from({ length: 2000 }, (_, i) => `name-${i}`)
const host = "127.0.0.1"

/**
 * 2,000 calls with 50 in flight over `client` and `server`, twice: all must be answered right.
 * Prints the rate of the second time (the first warms the code up).
 */
const calls = <E1, E2>(
  stack: string,
  client: Layer.Layer<RpcClient.Protocol, E1, SocketServer.SocketServer>,
  server: Layer.Layer<SocketServer.SocketServer, E2>
) =>
  Effect.gen(function*() {
    for (const round of ["warm-up", "measured"]) {
      const start = performance.now()
      const replies = yield* greetAll(names, 50)
      expect(replies).toEqual(names.map((name) => `Hello, ${name}!`))
      if (round === "measured") console.log(`${stack}: ${Math.round(names.length / ((performance.now() - start) / 1000))} calls/s`)
    }
  }).pipe(Effect.provide(client), Effect.provide(server), Logger.withMinimumLogLevel(LogLevel.Warning))

const ourServer = serve(PlatformSocketServer.layer({ host, port: 0 }))
const platformServer = serve(NodeSocketServer.layer({ host, port: 0 }))
const platformClient = connect((port) => NodeSocket.layerNet({ host, port }))

describe("@effect/rpc over PlatformSocketServer and PlatformSocket", () => {
  it.live("the README's example", () => Effect.map(program, (replies) => expect(replies).toEqual(["Hello, Ada!", "Hello, Grace!"])))

  it.live("2,000 calls, 50 in flight, all answered correctly", () => calls("effect-net both sides", ClientLive, ServerLive))
  it.live("across: our server, the platform's NodeSocket client", () => calls("our server, NodeSocket client", platformClient, ourServer))
  it.live("across: the platform's NodeSocketServer, our client", () => calls("NodeSocketServer, our client", ClientLive, platformServer))
  it.live("for comparison: the platform's NodeSocketServer and NodeSocket client", () =>
    calls("the platform both sides", platformClient, platformServer))

  it.live("the client reconnects after the server restarts", () =>
    Effect.gen(function*() {
      const first = yield* Scope.make()
      const server = yield* Layer.buildWithScope(ourServer, first)
      const port = (Context.get(server, SocketServer.SocketServer).address as SocketServer.TcpAddress).port
      const client = yield* Layer.build(connect(() => PlatformSocket.layerNet({ host, port })).pipe(Layer.provide(Layer.succeedContext(server))))
      const greet = (name: string) => greetAll([name], 1).pipe(Effect.provide(client))
      expect(yield* greet("before")).toEqual(["Hello, before!"])

      yield* Scope.close(first, Exit.void)
      yield* Layer.build(serve(PlatformSocketServer.layer({ host, port })))
      // Calls fail while the client has no connection; it dials again on its own (RpcClient's retry).
      const after = yield* greet("after").pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds"))))
      expect(after).toEqual(["Hello, after!"])
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))

  it.live("an RPC handler sees the client's address (PlatformSocketServer.remoteAddress)", () =>
    Effect.gen(function*() {
      class Whoami extends RpcGroup.make(Rpc.make("Whoami", { success: Schema.String })) {}
      const WhoamiLive = Whoami.toLayer({
        Whoami: () => Effect.map(PlatformSocketServer.remoteAddress, Option.match({ onNone: () => "unknown", onSome: (address) => address._tag === "TcpAddress" ? String(address.port) : address.path }))
      })
      const server = yield* Layer.build(RpcServer.layer(Whoami).pipe(
        Layer.provide(WhoamiLive),
        Layer.provide(RpcServer.layerProtocolSocketServer),
        Layer.provideMerge(PlatformSocketServer.layer({ host, port: 0 })),
        Layer.provide(RpcSerialization.layerNdjson)
      ))
      const address = Context.get(server, SocketServer.SocketServer).address as SocketServer.TcpAddress
      // A client whose source port we know: the platform's, bound to a port of our choosing.
      const localPort = yield* freePort()
      const answer = yield* Effect.gen(function*() {
        const whoami = yield* RpcClient.make(Whoami)
        return yield* whoami.Whoami()
      }).pipe(
        Effect.scoped,
        Effect.provide(RpcClient.layerProtocolSocket().pipe(
          Layer.provide(NodeSocket.layerNet({ host, port: address.port, localAddress: host, localPort })),
          Layer.provide(RpcSerialization.layerNdjson)
        ))
      )
      expect(answer).toBe(String(localPort))
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))

  it.live("a client that sends what is not JSON gets a Defect; the others are still served", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(ourServer)
      const { port } = Context.get(server, SocketServer.SocketServer).address as SocketServer.TcpAddress
      const peer = yield* Peer.connect(port)
      yield* peer.write("this is not json\n")
      expect(JSON.parse(yield* peer.waitFor("}}\n"))).toMatchObject({ _tag: "Defect", defect: { name: "SyntaxError" } })
      const replies = yield* greetAll(["Ada"], 1).pipe(Effect.provide(ClientLive), Effect.provide(Layer.succeedContext(server)))
      expect(replies).toEqual(["Hello, Ada!"])
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))
})
