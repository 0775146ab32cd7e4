/**
 * One TCP connection: reads pulled with backpressure (`read`, and `reads`, the Stream of them),
 * writes that wait for the OS to take the data, a graceful `end` and an immediate `close`.
 * The loops over its messages (`runMessages`, `messages`) are framing's (src/framing/messages.ts);
 * the public `TcpConnection` namespace holds both.
 *
 * Why not @effect/platform's Socket: its `run` forks a fiber per `'data'` event with no pause (no
 * read backpressure, replies can reorder) and `toChannel` buffers reads without bound. Here the
 * socket reads from the OS only while a read waits.
 */
import { Context, Duration, Effect, Sink, type Stream } from "effect"
import type { Socket } from "node:net"
import type { Address } from "../address.js"
import { limits, make, unread } from "../internal/socket-connection.js"
import type { TcpSocketError, TcpTimeoutError } from "./errors.js"
import type { TlsSession } from "./tls.js"

export type { TlsSession } from "./tls.js"

/**
 * What can end a connection's reads or writes with an error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { TcpConnection } from "effect-net"
 *
 * const readOrNothing = (connection: TcpConnection.Connection) =>
 *   Effect.catchAll(connection.read, (error: TcpConnection.TcpError) => Effect.as(Effect.logDebug(error.message), undefined))
 * ```
 *
 * @since 0.1.0
 */
export type TcpError = TcpSocketError | TcpTimeoutError

/**
 * A connection. The contract, which every member keeps:
 * - **Interruption.** Interrupting `read`, `readLent`, `reads` (`Stream.timeout`, `Effect.race`,
 *   a fiber interrupted while it reads) loses, duplicates and reorders nothing: bytes that come
 *   afterwards go to the next read. While no read waits, nothing is read from the OS (the peer's
 *   sends wait in the kernel). An interrupted write or `end` may already have handed its bytes
 *   to the OS: they are sent.
 * - **Concurrency.** Any number of fibers may `write` and `end` at once: each completes once the
 *   socket took its bytes, which stay contiguous. Reads from several fibers are served one at a
 *   time, in the order they began, each getting bytes the others do not.
 * - **Members are plain values and functions**: `Stream.runForEach(reads, connection.write)` works.
 * - **Timeouts.** The idle timeout closes a connection on which no bytes moved either way for
 *   that long; the write timeout, one whose peer took none of the bytes a write waits on for
 *   that long. Either fails the waiting reads and writes with `TcpTimeoutError`.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import type { TcpConnection } from "effect-net"
 *
 * // Each read back in capitals; the writes wait for the peer to read.
 * const shout = (connection: TcpConnection.Connection) =>
 *   connection.reads.pipe(
 *     Stream.map((bytes) => new TextEncoder().encode(new TextDecoder().decode(bytes).toUpperCase())),
 *     Stream.runForEach(connection.write)
 *   )
 * ```
 *
 * @since 0.1.0
 */
export interface Connection {
  /** Both ends' addresses; on a Unix domain socket, both are its file's (see `unixAddress`). */
  readonly local: Address
  readonly remote: Address
  /**
   * The TLS session, on a TLS connection: the protocol, whether the peer's certificate verified,
   * the certificate itself (`peerCertificate.subject`). Asked of the socket when read.
   */
  readonly tls?: TlsSession | undefined
  /**
   * The next read: the bytes the peer sent since the last one, waiting for some if there are
   * none; `undefined` once the peer has finished sending (FIN).
   */
  readonly read: Effect.Effect<Uint8Array | undefined, TcpError>
  /**
   * `read` without a copy, where the connection reads into a buffer of its own (a client's
   * `readBufferBytes`): the bytes are then a view of that buffer, valid until the next read
   * reuses it. For a loop that is done with each read before it reads again (writes it out,
   * decodes it): keep nothing of it, or copy. Elsewhere the same as `read`.
   */
  readonly readLent: Effect.Effect<Uint8Array | undefined, TcpError>
  /** The bytes the peer sends as a Stream of `read`s, ending when the peer half-closes. */
  readonly reads: Stream.Stream<Uint8Array, TcpError>
  /** Writes bytes; suspends while the socket's buffer is full (until the peer reads). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, TcpError>
  /**
   * Writes bytes now, outside any Effect: nothing is returned when the OS took them at once,
   * else the Effect that waits until it has (what `write` runs). For a loop that already runs in
   * the connection's fiber, such as a `runMessages` handler: one Effect fewer per message.
   */
  readonly unsafeWrite: (bytes: Uint8Array) => Effect.Effect<void, TcpError> | undefined
  /** Half-closes: flushes what was written, then sends FIN. Waits until the OS has the data. */
  readonly end: Effect.Effect<void, TcpError>
  /** Closes at once; buffered writes are dropped. Idempotent. */
  readonly close: Effect.Effect<void>
  /** Ends the reads at the next one, as if the peer had finished sending (graceful shutdown). */
  readonly stopReading: Effect.Effect<void>
  /** Bytes read from and written to the socket so far. */
  readonly bytesRead: () => number
  readonly bytesWritten: () => number
}

/**
 * The connection a handler serves, in its fiber's context (and the fibers it forks): a server
 * (`TcpServer`, `PlatformSocketServer`) puts it there, so that code deep in a handler reaches it
 * without being passed it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { formatAddress, TcpConnection } from "effect-net"
 *
 * // A log line about the peer, from anywhere in a handler.
 * const note = (message: string) =>
 *   Effect.flatMap(TcpConnection.TcpConnection, (connection) => Effect.logInfo(`${formatAddress(connection.remote)}: ${message}`))
 * ```
 *
 * @since 0.1.0
 */
export class TcpConnection extends Context.Tag("effect-net/TcpConnection")<TcpConnection, Connection>() {}

/**
 * The timeouts of a connection made with `fromSocket`.
 *
 * @example
 * ```ts
 * import type { TcpConnection } from "effect-net"
 *
 * const options: TcpConnection.TcpConnectionOptions = { idleTimeout: "5 minutes", writeTimeout: "30 seconds" }
 * ```
 *
 * @since 0.1.0
 */
export interface TcpConnectionOptions {
  /** Close the connection when no bytes moved either way for this long; 0 for never. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Fail a write, or `end`, whose peer takes none of our bytes for this long (a stuck reader); 0 for never. */
  readonly writeTimeout?: Duration.DurationInput | undefined
}

/**
 * Wraps a connected socket (paused: it reads only while a read waits). The caller owns it:
 * `close` it when done (the listener and the client do so when their scopes close).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Net from "node:net"
 * import { TcpConnection } from "effect-net"
 *
 * // A socket made by other code (here, a plain node:net server's), read the library's way.
 * const server = Net.createServer((socket) => {
 *   const connection = TcpConnection.fromSocket(socket, { idleTimeout: "1 minute" })
 *   Effect.runFork(Effect.ensuring(Effect.flatMap(connection.read, (bytes) => Effect.logInfo(bytes?.length)), connection.close))
 * })
 * server.close()
 * ```
 *
 * @since 0.1.0
 */
export const fromSocket = (socket: Socket, options: TcpConnectionOptions = {}): Connection =>
  make(socket, limits(options, undefined, undefined))

/**
 * Reads exactly `n` bytes, in one buffer, waiting for as many reads as that takes (fs2's
 * `readN`); fewer only when the peer finished sending first (none: an empty buffer). What a
 * read brought beyond `n` stays for the next read; interrupted, it takes nothing: the bytes it
 * had gathered go back for the next read.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TcpConnection } from "effect-net"
 *
 * // A 4-byte big-endian length, then that many bytes.
 * const frame = (connection: TcpConnection.Connection) =>
 *   Effect.gen(function*() {
 *     const header = yield* TcpConnection.readExactly(connection, 4)
 *     if (header.length < 4) return undefined
 *     return yield* TcpConnection.readExactly(connection, new DataView(header.buffer, header.byteOffset).getUint32(0))
 *   })
 * ```
 *
 * @since 0.1.0
 */
export const readExactly = (connection: Connection, n: number): Effect.Effect<Uint8Array, TcpError> =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let gathered = 0
    const giveBack = () => unread(connection, Buffer.concat(parts))
    const loop: Effect.Effect<Uint8Array, TcpError> = Effect.flatMap(connection.read, (read) => {
      if (read === undefined) return Effect.succeed(Buffer.concat(parts))
      parts.push(read)
      gathered += read.length
      if (gathered < n) return loop
      const all = parts.length === 1 ? read : Buffer.concat(parts)
      unread(connection, all.subarray(n))
      parts.length = 0
      return Effect.succeed(all.subarray(0, n))
    })
    return n <= 0 ? Effect.succeed(new Uint8Array(0)) : Effect.onInterrupt(loop, () => Effect.sync(giveBack))
  })

/**
 * A Sink that writes each chunk to the connection, in order, each once the last is taken, and
 * half-closes it (`end`) once the stream ends (fs2's `writes`): `Stream.run(source, writes(connection))`.
 * A stream that fails leaves the connection as it is.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { TcpConnection } from "effect-net"
 *
 * // Sends three lines, then half-closes.
 * const send = (connection: TcpConnection.Connection) =>
 *   Stream.make("one\n", "two\n", "three\n").pipe(
 *     Stream.encodeText,
 *     Stream.run(TcpConnection.writes(connection))
 *   )
 * ```
 *
 * @since 0.1.0
 */
export const writes = (connection: Connection): Sink.Sink<void, Uint8Array, never, TcpError> =>
  Sink.zipRight(Sink.forEach(connection.write), Sink.fromEffect(connection.end))
