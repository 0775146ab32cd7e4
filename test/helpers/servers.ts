/**
 * Local servers for the clients' tests, on 127.0.0.1 and a port the OS picks: `node:http` and
 * `node:https` ones (independent of the code under test), raw `node:net` ones that answer with
 * exactly the bytes, the pauses and the closes a test needs, and one whose backlog is full.
 */
import { Effect, type Scope } from "effect"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import { start } from "./process.js"

/** The self-signed certificate of `httpsServer` (for `localhost`, `127.0.0.1` and `::1`), or its key. */
export const fixture = (name: "cert.pem" | "key.pem") => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url))

/** Listens on 127.0.0.1, port 0; the scope closes the server and the connections it still has. */
export const listen = (server: Net.Server): Effect.Effect<number, never, Scope.Scope> => {
  const sockets = new Set<Net.Socket>()
  server.on("connection", (socket: Net.Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  return Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )
}

export const httpServer = (handler: Http.RequestListener) => listen(Http.createServer(handler))

export const httpsServer = (handler: Http.RequestListener) =>
  listen(Https.createServer({ key: fixture("key.pem"), cert: fixture("cert.pem") }, handler))

/** A TCP server that calls `respond` with each connection once the request's head has arrived. */
export const rawServer = (respond: (socket: Net.Socket, request: string) => void) =>
  listen(Net.createServer({ noDelay: true }, (socket) => {
    let request = ""
    socket.on("error", () => {})
    const onData = (data: Buffer) => {
      request += data.toString("latin1")
      if (!request.includes("\r\n\r\n")) return
      socket.off("data", onData)
      respond(socket, request)
    }
    socket.on("data", onData)
  }))

/** A TCP server that hands each connection (half-open allowed) to `onConnection`. */
export const tcpServer = (onConnection: (socket: Net.Socket) => void) =>
  listen(Net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("error", () => {})
    onConnection(socket)
  }))

/** A TCP server that accepts and then says nothing. */
export const silentServer = () => listen(Net.createServer((socket) => socket.on("error", () => {})))

/**
 * Writes each part in a write of its own, a few milliseconds apart (so that they tend to reach
 * the client in separate reads), then closes the connection.
 */
export const writeApart = (socket: Net.Socket, parts: ReadonlyArray<string | Uint8Array>, pauseMillis = 2) => {
  const next = (i: number) => {
    if (socket.destroyed) return
    if (i === parts.length) return void socket.end()
    const part = parts[i]!
    socket.write(typeof part === "string" ? Buffer.from(part, "latin1") : part, () => setTimeout(() => next(i + 1), pauseMillis))
  }
  next(0)
}

/**
 * A port where connecting times out: a listener (in Python) that never accepts, with the
 * smallest backlog, filled by a few connections, so that new SYNs go unanswered.
 */
export const fullBacklog = () =>
  Effect.gen(function*() {
    const python = yield* start([
      "python3",
      "-c",
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"
    ])
    const port = Number((yield* python.waitFor(/^(\d+)$/m))[1])
    const fillers: Array<Net.Socket> = []
    yield* Effect.addFinalizer(() => Effect.sync(() => fillers.forEach((socket) => socket.destroy())))
    for (let i = 0; i < 4; i++) fillers.push(Net.connect({ port, host: "127.0.0.1" }).on("error", () => {}))
    yield* Effect.sleep("200 millis")
    return port
  })
