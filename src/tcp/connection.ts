/**
 * One TCP connection: reads pulled with backpressure (`read`, and `reads`, the Stream of them),
 * writes that wait for the OS to take the data, a graceful `end` and an immediate `close`; and
 * the loops over its messages: `runMessages`, a server conversation's fast loop, and `messages`,
 * a pull of decoded messages that keeps its place across interruptions.
 *
 * Why not @effect/platform's Socket: its `run` forks a fiber per `'data'` event with no pause (no
 * read backpressure, replies can reorder) and `toChannel` buffers reads without bound. Here the
 * socket reads from the OS only while a read waits.
 */
import { Context, Duration, Effect, type Fiber, Sink, type Stream } from "effect"
import type { Socket } from "node:net"
import type { Address } from "../address.js"
import type { Decoder } from "../framing/decoder.js"
import { LineTimeoutError } from "../framing/errors.js"
import { wake } from "../internal/scheduler.js"
import { cork, limits, make, readIn, toMillis, uncork, unread } from "../internal/socket-connection.js"
import type { TcpSocketError, TcpTimeoutError } from "./errors.js"
import type { TlsSession } from "./tls.js"

export type { TlsSession } from "./tls.js"

/** What can end a connection's reads or writes with an error. */
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
 */
export class TcpConnection extends Context.Tag("effect-net/TcpConnection")<TcpConnection, Connection>() {}

export interface TcpConnectionOptions {
  /** Close the connection when no bytes moved either way for this long; 0 for never. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Fail a write, or `end`, whose peer takes none of our bytes for this long (a stuck reader); 0 for never. */
  readonly writeTimeout?: Duration.DurationInput | undefined
}

/**
 * Wraps a connected socket (paused: it reads only while a read waits). The caller owns it:
 * `close` it when done (the listener and the client do so when their scopes close).
 */
export const fromSocket = (socket: Socket, options: TcpConnectionOptions = {}): Connection =>
  make(socket, limits(options))

/**
 * Reads exactly `n` bytes, in one buffer, waiting for as many reads as that takes (fs2's
 * `readN`); fewer only when the peer finished sending first (none: an empty buffer). What a
 * read brought beyond `n` stays for the next read; interrupted, it takes nothing: the bytes it
 * had gathered go back for the next read.
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
 */
export const writes = (connection: Connection): Sink.Sink<void, Uint8Array, never, TcpError> =>
  Sink.zipRight(Sink.forEach(connection.write), Sink.fromEffect(connection.end))

/**
 * What a message handler returns: nothing (or `true`) to go on, `false` to stop reading (the
 * conversation is over), or an Effect of one of these, which runs before the next message.
 */
export type MessageResult<E, R> = void | boolean | Effect.Effect<void | boolean, E, R>

export interface RunMessagesOptions<DE, E, R> {
  /**
   * A message must be complete within this long of its first byte (a line waiting for its
   * newline), or it fails with `LineTimeoutError`: a peer trickling bytes cannot hold the
   * connection (the idle timeout would restart at each byte). Default: no limit.
   */
  readonly lineTimeout?: Duration.DurationInput | undefined
  /**
   * Answers a framing error (the decoder's, or the line timeout) instead of failing with it,
   * before the conversation ends: a protocol's way to tell the peer why it is closed.
   */
  readonly onFramingError?: ((error: DE | LineTimeoutError, connection: Connection) => Effect.Effect<void, E, R>) | undefined
}

/**
 * At most this many bytes of a read are decoded at once: a peer that pipelines many small
 * messages and does not read our replies holds the undecoded rest of its read as bytes, not as
 * thousands of messages waiting their turn.
 */
const decodeBytes = 4096

/**
 * A loop gives the event loop back after decoding this many bytes in a row without waiting for
 * a read: a peer that pipelines without end does not keep accepts and other connections waiting.
 */
const turnBytes = 64 * 1024

/** Lets the event loop run (I/O, timers), then goes on: resumed within the check phase, as a socket event would. */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  setImmediate(wake, resume, Effect.void)
})

/**
 * The state of one `runMessages`: an object with methods rather than closures, as a server
 * holds one per open connection.
 */
class MessageLoop<A, DE, E, R, E2, R2> {
  readonly messages: Array<A> = []
  /** What is left to decode of the last read (see `decodeBytes`). */
  rest: Uint8Array | undefined = undefined
  /** When the first byte of the message not yet complete came (with a line timeout). */
  lineStarted = 0
  /** Bytes decoded since the loop last waited for the event loop (see `turnBytes`). */
  decoded = 0
  /** A read and what follows it, made when the loop starts (see `start`). */
  loop: Effect.Effect<void, TcpError | E | E2, R | R2> = Effect.void

  constructor(
    readonly connection: Connection,
    readonly decoder: Decoder<DE, A>,
    readonly onMessage: (message: A, connection: Connection) => MessageResult<E, R>,
    readonly lineMillis: number | undefined,
    readonly onFramingError: RunMessagesOptions<DE, E2, R2>["onFramingError"]
  ) {}

  /** Starts in `fiber`: with the read that fiber uses (the owner's, in a server's own fiber). */
  start(fiber: Fiber.RuntimeFiber<unknown, unknown>): Effect.Effect<void, TcpError | E | E2, R | R2> {
    // Bound rather than an arrow: a bound function holds `this` itself, without a context object.
    return this.loop = Effect.flatMap(readIn(this.connection, fiber), this.onRead.bind(this))
  }

  onRead(read: Uint8Array | undefined): Effect.Effect<void, TcpError | E | E2, R | R2> {
    if (read !== undefined) return this.decode(read)
    return this.handleFrom(0, this.decoder.flush(this.messages) ?? null)
  }

  /** Decodes the next piece of `bytes`, keeping the rest for later. */
  decode(bytes: Uint8Array): Effect.Effect<void, TcpError | E | E2, R | R2> {
    const messages = this.messages
    if (bytes.length > decodeBytes && this.decoder.framesAreReads !== true) {
      this.rest = bytes.subarray(decodeBytes)
      bytes = bytes.subarray(0, decodeBytes)
    } else {
      this.rest = undefined
    }
    this.decoded += bytes.length
    const failure = this.decoder.push(bytes, messages)
    // A message completed: what is pending now (if anything) began in this read.
    if (messages.length > 0) this.lineStarted = 0
    return this.handleFrom(0, failure)
  }

  /**
   * Handles the messages from `index` on, then: reads on (`undefined`), ends (`null`), or
   * answers the framing error.
   */
  handleFrom(index: number, then: DE | LineTimeoutError | null | undefined): Effect.Effect<void, TcpError | E | E2, R | R2> {
    const messages = this.messages
    // Several messages in hand (a peer pipelining): their replies go out in one write, not one each.
    const batch = messages.length - index > 1 ? this.connection : undefined
    if (batch !== undefined) cork(batch)
    try {
      for (; index < messages.length; index++) {
        const result = this.onMessage(messages[index]!, this.connection)
        if (result === false) return Effect.void
        if (result === undefined || result === true) continue
        const next = index + 1
        return Effect.flatMap(result, (goOn) => goOn === false ? Effect.void : this.handleFrom(next, then))
      }
    } finally {
      // Before anything waits (a write for the peer to read, a delay): what was written goes out.
      if (batch !== undefined) uncork(batch)
    }
    // Handled: nothing of them (nor of the read they are views of) is kept while the loop waits.
    if (messages.length === 1) messages.pop()
    else messages.length = 0
    if (then === undefined) {
      if (this.decoded < turnBytes) return this.goOn()
      this.decoded = 0
      return Effect.zipRight(yieldToEventLoop, Effect.suspend(() => this.goOn()))
    }
    if (then === null) return Effect.void
    return this.onFramingError === undefined ? Effect.fail(then as E2) : this.onFramingError(then, this.connection)
  }

  /** Decodes the rest of the last read, or reads on. */
  goOn(): Effect.Effect<void, TcpError | E | E2, R | R2> {
    return this.rest === undefined ? this.next() : this.decode(this.rest)
  }

  /** The next read: plain, or bounded by what is left of the message's time. */
  next(): Effect.Effect<void, TcpError | E | E2, R | R2> {
    const lineMillis = this.lineMillis
    if (lineMillis === undefined || this.decoder.pending === 0) return this.loop
    const now = Date.now()
    if (this.lineStarted === 0) this.lineStarted = now
    return Effect.flatMap(
      Effect.timeoutTo(this.connection.read, {
        duration: Math.max(0, this.lineStarted + lineMillis - now),
        onSuccess: (read): Uint8Array | undefined | null => read,
        onTimeout: () => null
      }),
      (read) => read === null ? this.handleFrom(0, new LineTimeoutError({ timeout: Duration.millis(lineMillis) })) : this.onRead(read)
    )
  }
}

/**
 * Runs `onMessage` for each message of the connection, in order: pulls `read`, decodes each read
 * with `decoder` (see `Framing`) and pulls the next read only once the messages of the last one
 * are handled, so a peer that sends faster than it is answered waits (backpressure). Ends at end
 * of stream, after the last message if any, or when `onMessage` says `false`; a framing error
 * (see `RunMessagesOptions`) comes after the messages before it. `onMessage` and
 * `onFramingError` get the connection too, so that one function serves them all.
 *
 * The same messages as `Framing.frame(() => decoder)(connection.reads)` with `Stream.runForEach`,
 * for a fraction of the cost per message: the Streams are the composable API, this is the fast
 * path for a server's conversation loop. Interrupted, it leaves the connection's unread bytes for
 * the next read, but messages it had decoded and not handled are gone: to stop and go on later,
 * use `messages`.
 */
export const runMessages = <A, DE, E = never, R = never, E2 = DE | LineTimeoutError, R2 = never>(
  connection: Connection,
  decoder: Decoder<DE, A>,
  onMessage: (message: A, connection: Connection) => MessageResult<E, R>,
  options: RunMessagesOptions<DE, E2, R2> = {}
): Effect.Effect<void, TcpError | E | E2, R | R2> =>
  Effect.suspend(() => {
    const loop = new MessageLoop(connection, decoder, onMessage, toMillis(options.lineTimeout), options.onFramingError)
    return Effect.withFiberRuntime((fiber) => loop.start(fiber))
  })

/** A connection's messages, one per pull (see `messages`). */
export interface Messages<A, E> {
  /**
   * The next message, reading as needed; `undefined` at end of stream (after the last message,
   * if any). Fails with the decoder's error after the messages before it, and from then on.
   */
  readonly next: Effect.Effect<A | undefined, TcpError | E>
}

/**
 * Pulls `connection`'s messages one at a time, decoded with `decoder`, keeping the decoder's
 * state and the messages it decoded across pulls: interrupting `next` (a timeout, a race) loses
 * nothing, so that a later pull goes on where it stopped. `Framing.frame` over `reads` cannot:
 * its decoder goes with the Stream when the Stream is interrupted.
 */
export const messages = <E, A>(connection: Connection, decoder: Decoder<E, A>): Messages<A, E> => {
  const decoded: Array<A> = []
  let taken = 0
  let failure: E | undefined
  let ended = false
  const next: Effect.Effect<A | undefined, TcpError | E> = Effect.suspend(() => {
    if (taken < decoded.length) return Effect.succeed(decoded[taken++]!)
    decoded.length = 0
    taken = 0
    if (failure !== undefined) return Effect.fail(failure)
    if (ended) return Effect.succeed(undefined)
    return Effect.flatMap(connection.read, (read) => {
      // Decoded at once, in the step that took the read: an interruption finds the messages kept.
      if (read === undefined) {
        ended = true
        failure = decoder.flush(decoded)
      } else {
        failure = decoder.push(read, decoded)
      }
      return next
    })
  })
  return { next }
}
