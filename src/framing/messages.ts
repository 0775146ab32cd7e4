/**
 * The loops over a connection's messages: `runMessages`, a server conversation's fast loop, and
 * `messages`, a pull of decoded messages that keeps its place across interruptions. Both pull the
 * connection's reads and decode them with a `Decoder`, as `Framing.frame` does over `reads`.
 */
import { Duration, Effect, type Fiber } from "effect"
import { cork, readIn, toMillis, uncork } from "../internal/socket-connection.js"
import { wake } from "../internal/scheduler.js"
import type { Connection, TcpError } from "../tcp/connection.js"
import type { Decoder } from "./decoder.js"
import { LineTimeoutError } from "./errors.js"

/**
 * What a message handler returns: nothing (or `true`) to go on, `false` to stop reading (the
 * conversation is over), or an Effect of one of these, which runs before the next message.
 *
 * @example
 * ```ts
 * import type { Message, TcpConnection } from "effect-net"
 *
 * // Stops at "quit", else echoes the line.
 * const onLine = (message: Message, connection: TcpConnection.Connection): TcpConnection.MessageResult<TcpConnection.TcpError, never> =>
 *   new TextDecoder().decode(message.body) === "quit" ? false : connection.write(message.body)
 * ```
 *
 * @since 0.1.0
 */
export type MessageResult<E, R> = void | boolean | Effect.Effect<void | boolean, E, R>

/**
 * How `runMessages` treats slow and malformed messages.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { TcpConnection } from "effect-net"
 *
 * const options: TcpConnection.RunMessagesOptions<unknown, TcpConnection.TcpError, never> = {
 *   lineTimeout: "30 seconds",
 *   onFramingError: (error, connection) => connection.write(new TextEncoder().encode(`error: ${String(error)}\n`))
 * }
 * ```
 *
 * @since 0.1.0
 */
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
const turnBytes = 16 * 1024

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
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Framing, TcpConnection, TcpListener, TcpServer } from "effect-net"
 *
 * // A line protocol: each line back with its length, until "bye".
 * const conversation = (connection: TcpConnection.Connection) =>
 *   TcpConnection.runMessages(connection, Framing.lines(), (message) => {
 *     const line = new TextDecoder().decode(message.body)
 *     return line === "bye" ? false : connection.write(new TextEncoder().encode(`${line.length}\n`))
 *   })
 *
 * const ServerLive = TcpServer.layer(conversation).pipe(Layer.provide(TcpListener.layer({ port: 9999 })))
 * ```
 *
 * @since 0.1.0
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

/**
 * A connection's messages, one per pull (see `messages`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { LineTooLongError, Message, TcpConnection } from "effect-net"
 *
 * const nextOrTimeout = (pull: TcpConnection.Messages<Message, LineTooLongError>) => Effect.timeout(pull.next, "5 seconds")
 * ```
 *
 * @since 0.1.0
 */
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
 *
 * @example
 * ```ts
 * import { Effect, Option, Queue } from "effect"
 * import { Framing, TcpConnection } from "effect-net"
 *
 * // A client's loop: whichever comes first, a line from the peer or one to send; a line half
 * // read when the outbox wins is kept for the next pull.
 * const relay = (connection: TcpConnection.Connection, outbox: Queue.Queue<Uint8Array>) =>
 *   Effect.gen(function*() {
 *     const lines = TcpConnection.messages(connection, Framing.lines())
 *     while (true) {
 *       const next = yield* Effect.raceFirst(Effect.map(lines.next, Option.some), Effect.as(Effect.flatMap(Queue.take(outbox), connection.write), Option.none()))
 *       if (Option.isNone(next)) continue
 *       if (next.value === undefined) return
 *       yield* Effect.logInfo(new TextDecoder().decode(next.value.body))
 *     }
 *   })
 * ```
 *
 * @since 0.1.0
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
