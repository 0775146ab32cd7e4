/**
 * One TCP connection over a `node:net` socket: reads pulled with backpressure (`read`, and
 * `reads`, the Stream of them), writes that wait for the OS to take the data, a graceful `end`
 * and an immediate `close`. `runMessages` is the fast loop of a server's conversation.
 *
 * Why not @effect/platform's Socket: its `run` forks a fiber per 'data' event with no pause (no
 * read backpressure, replies can reorder) and `toChannel` buffers reads without bound. Here the
 * socket flows only while a read waits: a chunk that arrives with no reader waiting is held,
 * alone, and the socket paused, so a slow consumer leaves the data in the kernel and the peer's
 * sends block. (Flowing mode hands a chunk over in one `nextTick`; paused mode, `'readable'` and
 * `socket.read()`, takes two.)
 */
import { Context, Duration, Effect, Option, Scheduler, Stream } from "effect"
import type { Socket } from "node:net"
import { formatAddress, type SocketAddress, unixAddress } from "../address.js"
import type { Decoder, Message } from "../framing/decoder.js"
import { LineTimeoutError, type LineTooLongError } from "../framing/errors.js"
import * as Metrics from "../metrics/metrics.js"
import { TcpSocketError, TcpTimeoutError } from "./errors.js"
import { isTls, session, tcpSocketOf, type TlsSession } from "./tls.js"

export type { TlsSession } from "./tls.js"

/** What can end a connection's reads or writes with an error. */
export type TcpError = TcpSocketError | TcpTimeoutError

/** What the message loop's decoder (line framing) and its line timeout fail with. */
type FramingError = LineTooLongError | LineTimeoutError

export interface Connection {
  /** Both ends' addresses; on a Unix domain socket, both are its file's (see `unixAddress`). */
  readonly local: SocketAddress
  readonly remote: SocketAddress
  /**
   * The TLS session, on a TLS connection: the protocol, whether the peer's certificate verified,
   * the certificate itself (`peerCertificate.subject`). Asked of the socket when read.
   */
  readonly tls?: TlsSession | undefined
  /**
   * The next read: the bytes the peer sent since the last one, waiting for some if there are
   * none; `undefined` once the peer has finished sending (FIN). Nothing is read from the OS
   * while no read waits: a slow reader leaves the data in the kernel and the peer's sends block.
   */
  readonly read: Effect.Effect<Uint8Array | undefined, TcpError>
  /**
   * `read` without a copy, where the connection reads into a buffer of its own (a client's
   * `readBufferBytes`): the bytes are then a view of that buffer, valid until the next read
   * reuses it. For a loop that is done with each read before it reads again (writes it out,
   * decodes it): keep nothing of it, or copy. Elsewhere the same as `read`.
   */
  readonly readLent: Effect.Effect<Uint8Array | undefined, TcpError>
  /**
   * The bytes the peer sends as a Stream of `read`s, ending when the peer half-closes. One
   * consumer at a time; a later run continues where the previous one stopped.
   */
  readonly reads: Stream.Stream<Uint8Array, TcpError>
  /** Writes bytes; suspends while the socket's buffer is full (until the peer reads). */
  write(bytes: Uint8Array): Effect.Effect<void, TcpError>
  /**
   * Writes bytes now, outside any Effect: nothing is returned when the OS took them at once,
   * else the Effect that waits until it has (what `write` runs). For a loop that already runs in
   * the connection's fiber, such as a `runMessages` handler: one Effect fewer per message.
   */
  unsafeWrite(bytes: Uint8Array): Effect.Effect<void, TcpError> | undefined
  /** Half-closes: flushes what was written, then sends FIN. Waits until the OS has the data. */
  readonly end: Effect.Effect<void, TcpError>
  /** Closes at once; buffered writes are dropped. Idempotent. */
  readonly close: Effect.Effect<void>
  /** Ends the reads at the next one, as if the peer had finished sending (graceful shutdown). */
  readonly stopReading: Effect.Effect<void>
  /** Bytes read from and written to the socket so far. */
  bytesRead(): number
  bytesWritten(): number
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

/**
 * The timeouts of a connection, in milliseconds, and the path of its Unix domain socket, if it
 * is on one: one object shared by all a listener accepts.
 */
export interface Limits {
  readonly idleMillis: number | undefined
  readonly writeMillis: number | undefined
  /** A Unix socket's path: its connections' addresses (Node knows none). */
  readonly path: string | undefined
}

/**
 * Resolves `TcpConnectionOptions` once, for every connection made with them (on the Unix socket
 * at `path`, if given).
 * @internal
 */
export const limits = (options: TcpConnectionOptions, path?: string): Limits => ({
  idleMillis: toMillis(options.idleTimeout),
  writeMillis: toMillis(options.writeTimeout),
  path
})

type Resume<A> = (effect: Effect.Effect<A, TcpError>) => void

/** The connection a socket belongs to: the socket's listeners are shared, and find it here. */
const owner = Symbol("effect-net/TcpConnection")
type OwnedSocket = Socket & { [owner]: SocketConnection }

function onData(this: OwnedSocket, chunk: Buffer) {
  const connection = this[owner]
  Metrics.counts.bytesReceived += chunk.length
  const reader = connection.reader
  if (reader !== undefined) {
    connection.reader = undefined
    return reader(Effect.succeed(chunk))
  }
  // Nobody is reading: keep this chunk and stop reading from the OS until somebody does.
  connection.held = connection.held === undefined ? chunk : Buffer.concat([connection.held, chunk])
  this.pause()
}
function onEnd(this: OwnedSocket) {
  this[owner].readsEnded = true
  this[owner].wakeReader()
}
function onDrain(this: OwnedSocket) {
  this[owner].wakeWriter()
}
// An 'error' listener must exist, or Node turns a reset into an uncaught exception.
function onError(this: OwnedSocket, cause: Error) {
  const connection = this[owner]
  connection.failure ??= new TcpSocketError({ remote: connection.peer, cause })
  connection.wakeAll()
}
function onClose(this: OwnedSocket) {
  const connection = this[owner]
  clearTimeout(connection.idleTimer)
  connection.open?.delete(this)
  connection.wakeAll()
}

/** Resets a TCP connection, or the TCP socket under a TLS one (Node resets TCP handles only). */
const reset = (socket: Socket) => {
  try {
    tcpSocketOf(socket).resetAndDestroy()
  } catch {
    // Not TCP underneath (a Unix socket): closed, its buffer goes with it.
    socket.destroy()
  }
}

/**
 * The scheduler of connection fibers: a fiber woken by a socket event runs within that event's
 * callback, instead of in a microtask queued for it (bench/README.md). A fiber that yields is
 * queued behind its own run, as usual.
 * @internal
 */
export const immediate = Scheduler.make((task) => task())

/** Milliseconds since this module loaded: small enough to stay a small integer in an object field. */
const origin = Date.now()
const elapsed = () => Date.now() - origin

/**
 * The idle timer is not re-armed per read: it fires once per idle period, and then looks how long
 * the reader has been waiting (a busy connection costs one timer event per period, not per read).
 */
const checkIdle = (connection: SocketConnection) => {
  connection.idleTimer = undefined
  const waited = connection.idleFor(elapsed())
  if (waited !== undefined) connection.idleTimer = setTimeout(checkIdle, connection.limits.idleMillis! - waited, connection).unref()
}

/**
 * The idle timeouts of what a listener accepted: one timer for all, every quarter of the timeout
 * (a second at most), instead of one per connection (memory per idle connection counts).
 * @internal
 */
export const sweepIdle = (open: ReadonlySet<Socket>, idleMillis: number): NodeJS.Timeout =>
  setInterval(() => {
    const now = elapsed()
    for (const socket of open) (socket as OwnedSocket)[owner]?.idleFor(now)
  }, Math.min(1000, Math.ceil(idleMillis / 4))).unref()

const endOfStream: Effect.Effect<undefined> = Effect.succeed(undefined)

/**
 * A class, not a closure per operation: a server holds one per open connection, so what each
 * costs in memory counts; the Effects it hands out are made on first use.
 */
class SocketConnection implements Connection {
  failure: TcpError | undefined = undefined
  readsEnded = false
  stopped = false
  /** The waiting read, if any: the socket flows while there is one. */
  reader: Resume<Uint8Array | undefined> | undefined = undefined
  /** A chunk that came while no read waited (the socket is paused meanwhile). */
  held: Buffer | undefined = undefined
  /** The write or `end` waiting for the socket to take our data, if any. */
  writer: (() => void) | undefined = undefined
  /** A client connection's own idle timer (a listener's connections share one, see `sweepIdle`). */
  idleTimer: NodeJS.Timeout | undefined = undefined
  /** When the waiting read began (`elapsed()`). */
  waitingSince = 0

  constructor(
    readonly socket: Socket,
    readonly limits: Limits,
    /** The open sockets of the listener that accepted it, if any: it leaves them when closed. */
    readonly open: Set<Socket> | undefined
  ) {
    // Node keeps the address once asked, also after the socket is gone (a reset, say).
    void socket.remoteAddress
    ;(socket as OwnedSocket)[owner] = this
    open?.add(socket)
    socket.pause()
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("error", onError)
    socket.on("close", onClose)
  }

  /**
   * The client a PROXY protocol header named, set once before the server gets the connection;
   * declared only (no field), so that connections without a header carry nothing for it.
   */
  declare proxied?: SocketAddress

  get remote(): SocketAddress {
    if (this.proxied !== undefined) return this.proxied
    const path = this.limits.path
    if (path !== undefined) return unixAddress(path)
    return { host: this.socket.remoteAddress ?? "unknown", port: this.socket.remotePort ?? 0 }
  }

  get local(): SocketAddress {
    const path = this.limits.path
    if (path !== undefined) return unixAddress(path)
    return { host: this.socket.localAddress ?? "unknown", port: this.socket.localPort ?? 0 }
  }

  get tls(): TlsSession | undefined {
    return isTls(this.socket) ? session(this.socket) : undefined
  }

  get peer(): string {
    return formatAddress(this.remote)
  }

  /**
   * Times the connection out if its read has waited the idle timeout by `now`; otherwise how
   * long it has waited (`undefined` when no read waits).
   */
  idleFor(now: number): number | undefined {
    if (this.reader === undefined || this.socket.destroyed) return undefined
    const waited = now - this.waitingSince
    const idleMillis = this.limits.idleMillis!
    if (waited < idleMillis) return waited
    this.timeOut(new TcpTimeoutError({ remote: this.peer, kind: "Idle", seconds: idleMillis / 1000 }))
    return undefined
  }

  /** Cuts the connection off. A stuck reader gets a reset: it frees the kernel's send buffer, which a FIN would wait behind. */
  timeOut(error: TcpTimeoutError) {
    if (this.failure !== undefined) return
    this.failure = error
    Metrics.connectionsTimedOut.unsafeUpdate(1, Metrics.noTags)
    if (error.kind === "Write") reset(this.socket)
    else this.socket.destroy()
  }

  wakeReader() {
    const reader = this.reader
    if (reader === undefined) return
    this.reader = undefined
    reader(this.nextRead() ?? this.read)
  }

  wakeWriter() {
    const writer = this.writer
    if (writer === undefined) return
    this.writer = undefined
    writer()
  }

  wakeAll() {
    this.wakeReader()
    this.wakeWriter()
  }

  /** What a read gets without waiting, if anything: a held chunk, the end, or the failure. */
  private nextRead(): Effect.Effect<Uint8Array | undefined, TcpError> | undefined {
    if (this.stopped) return endOfStream
    const held = this.held
    if (held !== undefined) {
      this.held = undefined
      // Taken: read from the OS again.
      if (!this.readsEnded) this.socket.resume()
      return Effect.succeed(held)
    }
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.readsEnded || this.socket.destroyed) return endOfStream
    return undefined
  }

  // No canceler: it would cost more Effect operations per read than everything else. A reader
  // interrupted while waiting leaves `reader` set; resuming a finished fiber is a no-op.
  private _read: Effect.Effect<Uint8Array | undefined, TcpError> | undefined
  get read(): Effect.Effect<Uint8Array | undefined, TcpError> {
    return this._read ??= Effect.async<Uint8Array | undefined, TcpError>((resume) => {
      const next = this.nextRead()
      if (next !== undefined) return resume(next)
      this.reader = resume
      if (this.socket.isPaused()) this.socket.resume()
      const idleMillis = this.limits.idleMillis
      if (idleMillis !== undefined) {
        this.waitingSince = elapsed()
        if (this.open === undefined) this.idleTimer ??= setTimeout(checkIdle, idleMillis, this).unref()
      }
    })
  }

  get readLent(): Effect.Effect<Uint8Array | undefined, TcpError> {
    return this.read
  }

  get reads(): Stream.Stream<Uint8Array, TcpError> {
    return Stream.repeatEffectOption(Effect.flatMap(
      Effect.mapError(this.read, Option.some),
      (chunk) => chunk === undefined ? Effect.fail(Option.none()) : Effect.succeed(chunk)
    ))
  }

  private closedError() {
    return new TcpSocketError({ remote: this.peer, cause: new Error("it is closed") })
  }

  /**
   * Waits until the socket has taken our data ('drain', 'finish' or 'close' wake `writer`). After
   * 'drain', a connection failed or closed meanwhile fails the write; after 'finish' (`ending`),
   * only a failure does: closing is an end too. The write timeout is a timer, not a raced fiber:
   * on a busy connection a wait for 'drain' is common.
   */
  private awaitWriter(ending: boolean): Effect.Effect<void, TcpError> {
    return Effect.async<void, TcpError>((resume) => {
      // Listened to from the first wait on: most connections never wait for the peer to read.
      if (!this.socket.listeners("drain").includes(onDrain)) this.socket.on("drain", onDrain)
      const millis = this.limits.writeMillis
      const timer = millis === undefined ? undefined : setTimeout(() => {
        this.timeOut(new TcpTimeoutError({ remote: this.peer, kind: "Write", seconds: millis / 1000 }))
      }, millis).unref()
      this.writer = () => {
        clearTimeout(timer)
        if (this.failure !== undefined) resume(Effect.fail(this.failure))
        else resume(!ending && this.socket.destroyed ? Effect.fail(this.closedError()) : Effect.void)
      }
      return Effect.sync(() => {
        clearTimeout(timer)
        this.writer = undefined
      })
    })
  }

  private _drain: Effect.Effect<void, TcpError> | undefined

  unsafeWrite(bytes: Uint8Array): Effect.Effect<void, TcpError> | undefined {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    const socket = this.socket
    if (!socket.writable) return Effect.fail(this.closedError())
    Metrics.counts.bytesSent += bytes.length
    if (socket.write(bytes)) return undefined
    return this._drain ??= this.awaitWriter(false)
  }

  write(bytes: Uint8Array): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => this.unsafeWrite(bytes) ?? Effect.void)
  }

  get end(): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => {
      const socket = this.socket
      if (socket.destroyed || socket.writableFinished) return Effect.void
      socket.end()
      if (socket.writableFinished) return Effect.void
      socket.once("finish", onDrain)
      return this.awaitWriter(true)
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

  bytesRead(): number {
    return this.socket.bytesRead
  }

  bytesWritten(): number {
    return this.socket.bytesWritten
  }
}

/**
 * The `onread` callback of a socket that reads into one buffer of its own: the read goes to the
 * waiting reader as a view of the buffer, and the socket stops reading from the OS until the
 * next read (which resumes it), so the buffer is not overwritten while lent. Called with the
 * socket as `this`. Plain TCP only: a TLS socket goes on delivering after `pause()`, into the
 * same buffer.
 * @internal
 */
export function onReadInto(this: Socket, length: number, buffer: Buffer): boolean {
  const connection = (this as OwnedSocket)[owner]
  const reader = connection.reader
  // The socket reads only while a read waits; were it otherwise, a copy is held as a chunk would be.
  if (reader === undefined) {
    onData.call(this as OwnedSocket, Buffer.from(buffer.subarray(0, length)))
    return true
  }
  // pause(), not returning false: that would stop the reads without the socket knowing it is paused.
  this.pause()
  Metrics.counts.bytesReceived += length
  connection.reader = undefined
  reader(Effect.succeed(buffer.subarray(0, length)))
  return true
}

const copy = (bytes: Uint8Array | undefined): Uint8Array | undefined => bytes === undefined ? undefined : Buffer.from(bytes)

/**
 * A connection whose socket reads into one buffer of its own (`onReadInto`): `readLent` lends
 * views of it; `read`, and so `reads`, copy them, as their bytes may be kept.
 */
class BufferedConnection extends SocketConnection {
  private _copied: Effect.Effect<Uint8Array | undefined, TcpError> | undefined

  override get readLent(): Effect.Effect<Uint8Array | undefined, TcpError> {
    return super.read
  }

  override get read(): Effect.Effect<Uint8Array | undefined, TcpError> {
    return this._copied ??= Effect.map(super.read, copy)
  }
}

/**
 * Wraps a connected socket (paused: it flows only while a read waits). The caller owns it:
 * `close` it when done (the listener and the client do so when their scopes close).
 */
export const fromSocket = (socket: Socket, options: TcpConnectionOptions = {}): Connection =>
  new SocketConnection(socket, limits(options), undefined)

/**
 * A socket with its limits resolved once: an accepted one in its listener's set of open sockets
 * until it closes; a client's in none. `buffered`: the socket was made with
 * `onread: { buffer, callback: onReadInto }`.
 * @internal
 */
export const fromConnected = (socket: Socket, limits: Limits, open: Set<Socket> | undefined, buffered = false): Connection =>
  new (buffered ? BufferedConnection : SocketConnection)(socket, limits, open)

/**
 * What the PROXY protocol header of an accepted connection said: the client, if it named one,
 * becomes its `remote`; `rest`, the bytes that came after the header, its next read (before
 * anything read since).
 * @internal
 */
export const setProxied = (connection: Connection, client: SocketAddress | undefined, rest: Uint8Array): void => {
  const socketConnection = connection as SocketConnection
  if (client !== undefined) socketConnection.proxied = client
  if (rest.length === 0) return
  const first = Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength)
  const held = socketConnection.held
  socketConnection.held = held === undefined ? first : Buffer.concat([first, held])
}

/**
 * What a message handler returns: nothing (or `true`) to go on, `false` to stop reading (the
 * conversation is over), or an Effect of one of these, which runs before the next message.
 */
export type MessageResult<E, R> = void | boolean | Effect.Effect<void | boolean, E, R>

export interface RunMessagesOptions<E, R> {
  /**
   * A message must be complete within this long of its first byte (a line waiting for its
   * newline), or it fails with `LineTimeoutError`: a peer trickling bytes cannot hold the
   * connection (the idle timeout would restart at each byte). Default: no limit.
   */
  readonly lineTimeout?: Duration.DurationInput | undefined
  /**
   * Answers a framing error (a line too long, or too slow to arrive) instead of failing with it,
   * before the conversation ends: a protocol's way to tell the peer why it is closed.
   */
  readonly onFramingError?: ((error: FramingError, connection: Connection) => Effect.Effect<void, E, R>) | undefined
}

/**
 * The state of one `runMessages`: an object with methods rather than closures, as a server
 * holds one per open connection.
 */
class MessageLoop<E, R, E2, R2> {
  readonly messages: Array<Message> = []
  /** When the first byte of the message not yet complete came (with a line timeout). */
  lineStarted = 0
  readonly loop: Effect.Effect<void, TcpError | E | E2, R | R2>

  constructor(
    readonly connection: Connection,
    readonly decoder: Decoder<FramingError>,
    readonly onMessage: (message: Message, connection: Connection) => MessageResult<E, R>,
    readonly lineMillis: number | undefined,
    readonly onFramingError: RunMessagesOptions<E2, R2>["onFramingError"]
  ) {
    // Bound rather than an arrow: a bound function holds `this` itself, without a context object.
    this.loop = Effect.flatMap(connection.read, this.onRead.bind(this))
  }

  onRead(read: Uint8Array | undefined): Effect.Effect<void, TcpError | E | E2, R | R2> {
    const messages = this.messages
    messages.length = 0
    if (read === undefined) {
      return this.handleFrom(0, this.decoder.flush(messages) ?? null)
    }
    const tooLong = this.decoder.push(read, messages)
    // A message completed: what is pending now (if anything) began in this read.
    if (messages.length > 0) this.lineStarted = 0
    return this.handleFrom(0, tooLong)
  }

  /**
   * Handles the messages from `index` on, then: reads on (`undefined`), ends (`null`), or
   * answers the framing error.
   */
  handleFrom(index: number, then: FramingError | null | undefined): Effect.Effect<void, TcpError | E | E2, R | R2> {
    const messages = this.messages
    for (; index < messages.length; index++) {
      const result = this.onMessage(messages[index]!, this.connection)
      if (result === false) return Effect.void
      if (result === undefined || result === true) continue
      const next = index + 1
      return Effect.flatMap(result, (goOn) => goOn === false ? Effect.void : this.handleFrom(next, then))
    }
    if (then === undefined) return this.next()
    if (then === null) return Effect.void
    return this.onFramingError === undefined ? Effect.fail(then as E2) : this.onFramingError(then, this.connection)
  }

  /** The next read: plain, or bounded by what is left of the line's time. */
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
      (read) => read === null ? this.handleFrom(this.messages.length, new LineTimeoutError({ seconds: lineMillis / 1000 })) : this.onRead(read)
    )
  }
}

/**
 * Runs `onMessage` for each message of the connection, in order: pulls `read`, decodes each read
 * with `decoder` (see `Framing.decoder`) and pulls the next read only once the messages of the
 * last one are handled, so a peer that sends faster than it is answered waits (backpressure).
 * Ends at end of stream, after the unterminated last message if any, or when `onMessage` says
 * `false`; a framing error (see `RunMessagesOptions`) comes after the messages before it.
 * `onMessage` and `onFramingError` get the connection too, so that one function serves them all.
 *
 * The same messages as `Framing.frame(framing)(connection.reads)` with `Stream.runForEach`, for a
 * fraction of the cost per message: the Streams are the composable API, this is the fast path
 * for a server's conversation loop (bench/README.md).
 */
export const runMessages = <E = never, R = never, E2 = FramingError, R2 = never>(
  connection: Connection,
  decoder: Decoder<FramingError>,
  onMessage: (message: Message, connection: Connection) => MessageResult<E, R>,
  options: RunMessagesOptions<E2, R2> = {}
): Effect.Effect<void, TcpError | E | E2, R | R2> =>
  new MessageLoop(connection, decoder, onMessage, toMillis(options.lineTimeout), options.onFramingError).loop
