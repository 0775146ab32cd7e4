/**
 * A plain `node:net` peer for tests, like `nc`: independent of the library under test, it
 * records everything it receives and can wait for a given text or for the server's close.
 */
import { Data, Deferred, Duration, Effect, FiberId, type Scope, Stream } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"

/** What a failure message shows of the received text: enough to see, not megabytes. */
const excerpt = (text: string) =>
  text.length <= 200 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 200))}... (${text.length} characters)`

export class PeerError extends Data.TaggedError("PeerError")<{ readonly message: string }> {}

export interface Peer {
  readonly socket: Net.Socket
  /** Everything received so far, as latin1 text (byte-exact). */
  readonly received: () => string
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  /** Waits until the received text is exactly `text` or ends with it. */
  readonly waitFor: (text: string, timeout?: Duration.DurationInput) => Effect.Effect<string, PeerError>
  /** Waits until the server ends the connection (FIN or reset); returns everything received. */
  readonly closed: (timeout?: Duration.DurationInput) => Effect.Effect<string, PeerError>
}

/** Connects, in TLS with `tls` (Node's client options: `ca`, say); the scope closes the connection. */
export const connect = (port: number, host = "127.0.0.1", tls?: Tls.ConnectionOptions): Effect.Effect<Peer, PeerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Peer, PeerError>((resume) => {
      const options = { port, host, allowHalfOpen: true }
      const socket = tls === undefined ? Net.connect(options) : Tls.connect({ ...options, ...tls })
      let data = ""
      const ended = Deferred.unsafeMake<void>(FiberId.none)
      socket.setEncoding("latin1")
      const waiters = new Set<() => void>()
      socket.on("data", (chunk: string) => {
        data += chunk
        for (const check of [...waiters]) check()
      })
      socket.on("end", () => Deferred.unsafeDone(ended, Effect.void))
      socket.on("close", () => Deferred.unsafeDone(ended, Effect.void))
      let connected = false
      socket.on("error", (error) => {
        Deferred.unsafeDone(ended, Effect.void)
        if (!connected) resume(Effect.fail(new PeerError({ message: `peer: ${error.message}` })))
      })
      socket.once(tls === undefined ? "connect" : "secureConnect", () => {
        connected = true
        resume(Effect.succeed({
          socket,
          received: () => data,
          write: (chunk) =>
            Effect.async<void>((done) => {
              socket.write(chunk, () => done(Effect.void))
            }),
          waitFor: (text, timeout = Duration.seconds(10)) =>
            Effect.async<string>((resume) => {
              const check = () => {
                if (!data.endsWith(text)) return
                waiters.delete(check)
                resume(Effect.succeed(data))
              }
              waiters.add(check)
              check()
              return Effect.sync(() => waiters.delete(check))
            }).pipe(
              Effect.timeoutFail({
                duration: timeout,
                onTimeout: () => new PeerError({ message: `expected ${JSON.stringify(text)}, received ${excerpt(data)}` })
              })
            ),
          closed: (timeout = Duration.seconds(10)) =>
            Deferred.await(ended).pipe(
              Effect.map(() => data),
              Effect.timeoutFail({
                duration: timeout,
                onTimeout: () => new PeerError({ message: `connection still open; received ${excerpt(data)}` })
              })
            )
        }))
      })
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

/**
 * Connects (in TLS with `tls`, trusting any certificate) and writes `total` bytes as fast as the
 * socket takes them, never reading a reply.
 */
export const floodWithoutReading = (port: number, total: number, seconds: number, tls?: "tls") =>
  Effect.acquireRelease(
    Effect.async<{ socket: Net.Socket; written: () => number }>((resume) => {
      const socket = tls === undefined
        ? Net.connect({ port, host: "127.0.0.1" })
        : Tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false })
      socket.pause()
      socket.on("error", () => {})
      let written = 0
      const deadline = Date.now() + seconds * 1000
      const block = Buffer.alloc(64 * 1024, "x")
      const pump = () => {
        while (written < total && Date.now() < deadline) {
          written += block.length
          if (!socket.write(block)) return void socket.once("drain", pump)
        }
      }
      socket.once(tls === undefined ? "connect" : "secureConnect", () => {
        pump()
        resume(Effect.succeed({ socket, written: () => written }))
      })
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

/** Writes `total` bytes of a counting pattern as fast as the socket takes them; resolves with what was written by `deadline`. */
export const flood = (socket: Net.Socket, total: number, deadline: number) =>
  Effect.async<number>((resume) => {
    let written = 0
    const block = Buffer.alloc(64 * 1024)
    const pump = () => {
      while (written < total && Date.now() < deadline) {
        for (let i = 0; i < block.length; i++) block[i] = (written + i) % 251
        written += block.length
        if (!socket.write(Buffer.from(block))) return socket.once("drain", pump)
      }
      resume(Effect.succeed(written))
    }
    pump()
    const timer = setTimeout(() => {
      socket.off("drain", pump)
      resume(Effect.succeed(written))
    }, deadline - Date.now())
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Reads what `flood` sent to its end: how many bytes came, and whether each is the one the
 * pattern has at its place (nothing lost, doubled or reordered).
 */
export const receiveFlood = <E>(reads: Stream.Stream<Uint8Array, E>) =>
  Effect.suspend(() => {
    let received = 0
    let intact = true
    return Stream.runForEach(reads, (read) =>
      Effect.sync(() => {
        for (let i = 0; i < read.length; i++) intact &&= read[i] === (received + i) % 251
        received += read.length
      })).pipe(Effect.map(() => ({ received, intact })))
  })
