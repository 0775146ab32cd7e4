/**
 * One TCP connection over a `node:net` socket: reads as a Stream pulled with backpressure,
 * writes that wait for the OS to take the data, a graceful `end` and an immediate `close`.
 *
 * Why not @effect/platform's Socket: its `run` forks a fiber per 'data' event with no pause
 * (no read backpressure, replies can reorder) and `toChannel` buffers reads without bound.
 * Here the socket stays in paused mode: a read is `socket.read()` when the consumer pulls, so
 * a slow consumer leaves data in the kernel and the peer's sends block.
 */
import { Context, Duration, Effect, Option, Stream } from "effect"
import type { Socket } from "node:net"
import { formatAddress, type SocketAddress } from "../address.js"
import type { Decoder, LineTooLongError, Message } from "../framing.js"
import * as Metrics from "../metrics/metrics.js"
import { TcpSocketError, TcpTimeoutError } from "./errors.js"

/** What can end a connection's reads or writes with an error. */
export type TcpError = TcpSocketError | TcpTimeoutError

export interface Connection {
  readonly local: SocketAddress
  readonly remote: SocketAddress
  /**
   * The next read: the bytes the peer sent since the last one, waiting for some if there are
   * none; `None` once the peer has finished sending (FIN). Nothing is read from the OS until
   * this is asked: a slow reader leaves the data in the kernel and the peer's sends block.
   */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, TcpError>
  /**
   * The bytes the peer sends as a Stream of `read`s, ending when the peer half-closes. One
   * consumer at a time; a later run continues where the previous one stopped.
   */
  readonly reads: Stream.Stream<Uint8Array, TcpError>
  /** Writes bytes; suspends while the socket's buffer is full (until the peer reads). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, TcpError>
  /** Half-closes: flushes what was written, then sends FIN. Waits until the OS has the data. */
  readonly end: Effect.Effect<void, TcpError>
  /** Closes at once; buffered writes are dropped. Idempotent. */
  readonly close: Effect.Effect<void>
  /** Ends `reads` at its next pull, as if the peer had finished sending (graceful shutdown). */
  readonly stopReading: Effect.Effect<void>
  /** Bytes read from and written to the socket so far. */
  readonly bytesRead: () => number
  readonly bytesWritten: () => number
}

/** The connection of a client program (see `TcpClient.layer`). */
export class TcpConnection extends Context.Tag("effect-net/TcpConnection")<TcpConnection, Connection>() {}

export interface TcpConnectionOptions {
  /** Fail the reads with `TcpTimeoutError` when waiting this long for the peer to send anything; 0 for never. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Fail a write, or `end`, that waits this long for the peer to read (a slow or stuck reader); 0 for never. */
  readonly writeTimeout?: Duration.DurationInput | undefined
}

/** A timeout in milliseconds; none for an infinite or zero duration (0 turns a timeout off). */
const toMillis = (input: Duration.DurationInput | undefined): number | undefined => {
  if (input === undefined) return undefined
  const millis = Duration.toMillis(Duration.decode(input))
  return Number.isFinite(millis) && millis > 0 ? millis : undefined
}

/** The connection a socket belongs to: the socket's listeners are shared, and find it here. */
const owner = Symbol("effect-net/TcpConnection")
type OwnedSocket = Socket & { [owner]: SocketConnection }

function onReadable(this: OwnedSocket) {
  this[owner].wakeReader()
}
function onEnd(this: OwnedSocket) {
  this[owner].readsEnded = true
  this[owner].wakeReader()
}
function onDrain(this: OwnedSocket) {
  this[owner].drained?.unsafeOpen()
}
// An 'error' listener must exist, or Node turns a reset into an uncaught exception.
function onError(this: OwnedSocket, cause: Error) {
  const connection = this[owner]
  connection.failure ??= new TcpSocketError({ remote: connection.peer, cause })
  connection.wakeAll()
}
function onClose(this: OwnedSocket) {
  clearTimeout(this[owner].idleTimer)
  this[owner].wakeAll()
}

const endOfReads = Effect.succeed(Option.none<Uint8Array>())

/**
 * A class, not a closure per operation: a server holds one per open connection, so what each
 * costs in memory counts; the Effects it hands out are made on first use.
 */
class SocketConnection implements Connection {
  readonly local: SocketAddress
  readonly remote: SocketAddress
  readonly peer: string
  failure: TcpError | undefined
  readsEnded = false
  stopped = false
  /** The reads' consumer, while it waits for the socket to become readable. */
  reader: ((resume: Effect.Effect<Option.Option<Uint8Array>, TcpError>) => void) | undefined
  /** Closed while a write waits for 'drain'; made by the first write that must wait. */
  drained: Effect.Latch | undefined
  readonly idleTimer: NodeJS.Timeout | undefined
  private readonly writeMillis: number | undefined

  constructor(readonly socket: Socket, options: TcpConnectionOptions) {
    this.remote = { host: socket.remoteAddress ?? "unknown", port: socket.remotePort ?? 0 }
    this.local = { host: socket.localAddress ?? "unknown", port: socket.localPort ?? 0 }
    this.peer = formatAddress(this.remote)
    this.writeMillis = toMillis(options.writeTimeout)
    const idleMillis = toMillis(options.idleTimeout)
    // One timer per connection, re-armed with refresh() each time a read waits: cheap on the hot path.
    this.idleTimer = idleMillis === undefined ? undefined : setTimeout(() => {
      if (this.reader !== undefined) {
        this.timeOut(new TcpTimeoutError({ remote: this.peer, kind: "Idle", seconds: idleMillis / 1000 }))
      }
    }, idleMillis).unref()
    ;(socket as OwnedSocket)[owner] = this
    socket.on("readable", onReadable)
    socket.on("end", onEnd)
    socket.on("drain", onDrain)
    socket.on("error", onError)
    socket.on("close", onClose)
  }

  /** Cuts the connection off. A stuck reader gets a reset: it frees the kernel's send buffer, which a FIN would wait behind. */
  timeOut(error: TcpTimeoutError) {
    if (this.failure !== undefined) return
    this.failure = error
    Metrics.connectionsTimedOut.unsafeUpdate(1, Metrics.noTags)
    if (error.kind === "Write") this.socket.resetAndDestroy()
    else this.socket.destroy()
  }

  /**
   * Hands the waiting reader what is there now, read in the event's callback (cheaper than in
   * the reader's fiber). When nothing is there yet, the reader looks again once it runs: a
   * 'readable' at end of stream comes a tick before 'end', itself before the fiber runs.
   */
  wakeReader() {
    const resume = this.reader
    if (resume === undefined) return
    this.reader = undefined
    const next = this.nextRead()
    resume(next === this.awaitRead ? this.read : next)
  }

  wakeAll() {
    this.wakeReader()
    this.drained?.unsafeOpen()
  }

  private nextRead(): Effect.Effect<Option.Option<Uint8Array>, TcpError> {
    if (this.stopped) return endOfReads
    const data: Buffer | null = this.socket.read()
    if (data !== null) {
      Metrics.bytesReceived.unsafeUpdate(data.length, Metrics.noTags)
      return Effect.succeed(Option.some(data))
    }
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.readsEnded || this.socket.destroyed) return endOfReads
    return this.awaitRead
  }

  // No canceler: it would cost more Effect operations per read than everything else. A reader
  // interrupted while waiting leaves `reader` set; resuming a finished fiber is a no-op.
  private _awaitRead: Effect.Effect<Option.Option<Uint8Array>, TcpError> | undefined
  private get awaitRead() {
    return this._awaitRead ??= Effect.async<Option.Option<Uint8Array>, TcpError>((resume) => {
      this.reader = resume
      this.idleTimer?.refresh()
    })
  }

  private _read: Effect.Effect<Option.Option<Uint8Array>, TcpError> | undefined
  get read() {
    return this._read ??= Effect.suspend(() => this.nextRead())
  }

  get reads(): Stream.Stream<Uint8Array, TcpError> {
    return Stream.repeatEffectOption(Effect.flatMap(
      Effect.mapError(this.read, Option.some),
      Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed })
    ))
  }

  private closedError() {
    return new TcpSocketError({ remote: this.peer, cause: new Error("it is closed") })
  }

  private get checkFailure(): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => this.failure !== undefined ? Effect.fail(this.failure) : Effect.void)
  }

  /** After a wait for 'drain': fails if the connection failed or was closed meanwhile. */
  private get checkWritable(): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      return this.socket.destroyed ? Effect.fail(this.closedError()) : Effect.void
    })
  }

  /** Bounds a wait for the peer to take our data by the write timeout; a stuck peer is cut off. */
  private bounded(wait: Effect.Effect<void, TcpError>): Effect.Effect<void, TcpError> {
    const millis = this.writeMillis
    return millis === undefined ? wait : wait.pipe(Effect.timeoutFail({
      duration: millis,
      onTimeout: () => {
        const error = new TcpTimeoutError({ remote: this.peer, kind: "Write", seconds: millis / 1000 })
        this.timeOut(error)
        return error
      }
    }))
  }

  // An arrow, like the two counters below: a caller may take it off the object.
  write = (bytes: Uint8Array): Effect.Effect<void, TcpError> =>
    Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (!this.socket.writable) return Effect.fail(this.closedError())
      Metrics.bytesSent.unsafeUpdate(bytes.length, Metrics.noTags)
      if (this.socket.write(bytes)) return Effect.void
      const drained = this.drained ??= Effect.unsafeMakeLatch(true)
      drained.unsafeClose()
      return this.bounded(Effect.zipRight(drained.await, this.checkWritable))
    })

  get end(): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => {
      const socket = this.socket
      if (socket.destroyed || socket.writableFinished) return Effect.void
      return this.bounded(Effect.async<void, TcpError>((resume) => {
        const done = () => resume(this.checkFailure)
        socket.once("finish", done)
        socket.once("close", done)
        socket.end()
        return Effect.sync(() => {
          socket.off("finish", done)
          socket.off("close", done)
        })
      }))
    })
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.socket.destroy()
    })
  }

  get stopReading(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.stopped = true
      this.wakeReader()
    })
  }

  bytesRead = () => this.socket.bytesRead
  bytesWritten = () => this.socket.bytesWritten
}

/**
 * Wraps a connected socket. The caller owns it: `close` it when done (the listener and the
 * client do so when their scopes close).
 */
export const fromSocket = (socket: Socket, options: TcpConnectionOptions = {}): Connection =>
  new SocketConnection(socket, options)

/**
 * What a message handler returns: nothing (or `true`) to go on, `false` to stop reading (the
 * conversation is over), or an Effect of one of these, which runs before the next message.
 */
export type MessageResult<E, R> = void | boolean | Effect.Effect<void | boolean, E, R>

/**
 * Runs `onMessage` for each message of the connection, in order: pulls `read`, decodes each read
 * with `decoder` (see `Framing.decoder`) and pulls the next read only once the messages of the
 * last one are handled, so a peer that sends faster than it is answered waits (backpressure).
 * Ends at end of stream, after the unterminated last message if any, or when `onMessage` says
 * `false`; fails with the decoder's `LineTooLongError` after the messages before the long line.
 *
 * The same messages as `Framing.frame(framing)(connection.reads)` with `Stream.runForEach`, for a
 * fraction of the cost per message: the Streams are the composable API, this is the fast path
 * for a server's conversation loop (bench/README.md).
 */
export const runMessages = <E, R>(
  connection: Connection,
  decoder: Decoder,
  onMessage: (message: Message) => MessageResult<E, R>
): Effect.Effect<void, TcpError | LineTooLongError | E, R> => {
  const messages: Array<Message> = []
  /** Handles `messages` from `index` on, then goes on with `then`. */
  const handleFrom = (
    index: number,
    then: Effect.Effect<void, TcpError | LineTooLongError | E, R>
  ): Effect.Effect<void, TcpError | LineTooLongError | E, R> => {
    for (; index < messages.length; index++) {
      const result = onMessage(messages[index]!)
      if (result === false) return Effect.void
      if (result === undefined || result === true) continue
      const next = index + 1
      return Effect.flatMap(result, (goOn) => goOn === false ? Effect.void : handleFrom(next, then))
    }
    return then
  }
  const loop: Effect.Effect<void, TcpError | LineTooLongError | E, R> = Effect.flatMap(connection.read, (read) => {
    messages.length = 0
    if (Option.isNone(read)) {
      const last = decoder.flush()
      if (last !== undefined) messages.push(last)
      return handleFrom(0, Effect.void)
    }
    const tooLong = decoder.push(read.value, messages)
    return handleFrom(0, tooLong === undefined ? loop : Effect.fail(tooLong))
  })
  return loop
}
