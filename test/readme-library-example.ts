// The library guide's examples (docs/library.md shows each part verbatim: test/readme.test.ts
// checks it, and runs them).
import { Chunk, Effect, Layer, LogLevel, PubSub, Stream } from "effect"
import { formatAddress, HttpGet, Logging, TcpClient, TcpConnection, TcpListener, TcpServer, UdpSocket, udpAddress } from "effect-net"

// A handler: each read written back, until the peer half-closes (then the server ends the connection).
const echo = (connection: TcpConnection.Connection) => Stream.run(connection.reads, TcpConnection.writes(connection))

// In a scope of your own, with `make`: the listener and the server live until the scope closes.
export const serveEcho = Effect.gen(function*() {
  const listener = yield* TcpListener.make({ host: "127.0.0.1", port: 0 })
  const server = yield* TcpServer.make(echo).pipe(Effect.provideService(TcpListener.TcpListener, listener))
  yield* Effect.log(`listening on tcp://${formatAddress(server.address)}`)
  return server
})

// As layers, with `layer`: the same server, composed with Layer.provide (or Layer.provideMerge to
// keep the listener's service, and its address, in the output).
export const EchoLive = TcpServer.layer(echo).pipe(Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 })))

// A client: the connection is the TcpClient service; `end` half-closes, and the reply is read to
// its end (`writes` ended the server's side too).
const ask = (text: string) =>
  Effect.gen(function*() {
    const connection = yield* TcpClient.TcpClient
    yield* connection.write(new TextEncoder().encode(text))
    yield* connection.end
    const reply = yield* Stream.runCollect(connection.reads)
    return new TextDecoder().decode(Buffer.concat([...reply]))
  })

// The client's layer needs the server's port: read it from the listener the server layer provides.
export const program = Effect.gen(function*() {
  const { address } = yield* TcpListener.TcpListener
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not on TCP")
  return yield* ask("hello").pipe(Effect.provide(TcpClient.layer({ port: address.port })))
}).pipe(Effect.provide(EchoLive))

// Every client's bytes to every client: the subscription lives in the handler's own Scope, so it
// is released when that connection ends; one fiber writes what others publish while another reads,
// until the peer finishes sending.
export const relay = (hub: PubSub.PubSub<Uint8Array>) => (connection: TcpConnection.Connection) =>
  Effect.gen(function*() {
    const inbox = yield* PubSub.subscribe(hub)
    const writing = Stream.runForEach(Stream.fromQueue(inbox), connection.write)
    const reading = Stream.runForEach(connection.reads, (bytes) => PubSub.publish(hub, bytes))
    yield* Effect.raceFirst(reading, writing)
  })

// A UDP echo: each datagram back to its sender.
export const udpEcho = Effect.gen(function*() {
  const socket = yield* UdpSocket.UdpSocket
  return yield* Stream.runForEach(socket.datagrams, ({ address, data }) => socket.send(data, address))
})

// A UDP echo and a client socket, each in the same scope; the client sends, the echo answers.
export const udpProgram = Effect.scoped(Effect.gen(function*() {
  const server = yield* UdpSocket.make({ host: "127.0.0.1", port: 0 })
  yield* Effect.forkScoped(udpEcho.pipe(Effect.provideService(UdpSocket.UdpSocket, server)))
  const client = yield* UdpSocket.make({ host: "127.0.0.1", port: 0 })
  yield* client.send(new TextEncoder().encode("ping"), udpAddress("127.0.0.1", server.address.port))
  const replies = yield* client.receive
  return new TextDecoder().decode(Chunk.unsafeHead(replies).data)
}))

// The library's routine lines (a peer's reset, a failed TLS handshake, a shutdown's progress) at
// Info rather than Debug, for everything this layer's program builds.
export const EchoLogged = EchoLive.pipe(Layer.provide(Logging.layerRoutineLevel(LogLevel.Info)))

// GET a URL (redirects followed), its body as text; the connection closes with the scope.
export const fetchText = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const response = yield* HttpGet.get(url, { follow: true, timeout: "10 seconds" })
    const text = yield* Stream.mkString(Stream.decodeText(response.body))
    return { status: response.head.status, text }
  }))
