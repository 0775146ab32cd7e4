/**
 * A `Connection` over a `node:net` (or `node:tls`) socket: the read and write machinery behind
 * the public interface in `src/tcp/connection.ts`.
 *
 * Reads: the socket flows only while a read waits. A chunk that comes is `held` and the oldest
 * waiting read is woken to take it; with no read waiting, the socket is paused, so a slow consumer
 * leaves the data in the kernel and the peer's sends block. A woken read takes the held bytes when
 * it runs, not when it is woken: a read interrupted in between leaves them for the next one.
 * Interrupting a waiting read removes it (its canceler), except the reads of the connection's
 * owner (the fiber of a server that closes the connection when that fiber ends, see `own`),
 * which need no canceler: that is the server's hot path.
 *
 * Writes: a write hands its bytes to the socket at once (so each write's bytes stay contiguous)
 * and, when the socket's buffer is over its high-water mark, waits for `'drain'`; any number of
 * fibers may wait. The write timeout runs while a write waits, and fires only when the kernel
 * took none of our bytes for that long.
 */
import { Duration, Effect, Fiber, Option, Stream } from "effect"
import type { Socket } from "node:net"
import { type Address, type TcpAddress, tcpAddress, unixAddress } from "../address.js"
import { connectionsTimedOut, type Recorder } from "./metrics.js"
import { TcpSocketError, TcpTimeoutError } from "../tcp/errors.js"
import { isTls, session, tcpSocketOf } from "../internal/tls.js"
import type { TlsSession } from "../tcp/tls.js"
import type { Connection, TcpError } from "../tcp/connection.js"
import * as Idle from "./idle.js"
import { wake } from "./scheduler.js"

/** The timeouts of a connection in milliseconds (none when off) and its Unix socket's path, if on one: shared by all a listener accepts. */
export interface Limits {
  readonly idleMillis: number | undefined
  readonly writeMillis: number | undefined
  readonly path: string | undefined
  /** Where its counts go, if the program records metrics. */
  readonly metrics: Recorder | undefined
}

type Read = Uint8Array | undefined
type Resume<A> = (effect: Effect.Effect<A, TcpError>) => void

/** The connection a socket belongs to: the socket's listeners are shared functions, and find it here. */
const owned = Symbol("effect-net/Connection")
type OwnedSocket = Socket & { [owned]: SocketConnection }

/** The connection of a socket made by `make`, if any. */
export const ofSocket = (socket: Socket): SocketConnection | undefined => (socket as Partial<OwnedSocket>)[owned]

function onData(this: OwnedSocket, chunk: Buffer) {
  this[owned].received(chunk)
}
function onEnd(this: OwnedSocket) {
  const connection = this[owned]
  connection.readsEnded = true
  connection.wakeReaders()
}
function onDrain(this: OwnedSocket) {
  this[owned].wakeWriters()
}
// An 'error' listener must exist, or Node turns a reset into an uncaught exception.
function onError(this: OwnedSocket, cause: Error) {
  const connection = this[owned]
  connection.failure ??= TcpSocketError.fromCause(connection.remote, cause)
  connection.wakeAll()
}
function onClose(this: OwnedSocket) {
  const connection = this[owned]
  connection.open?.delete(this)
  // Nothing more to read: reads end (after what is held), or fail with the failure if any.
  connection.readsEnded = true
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
 * How many of our bytes the kernel has taken: handed to libuv, less what libuv still queues. Node
 * tells of a write only once all its bytes are out; libuv's queue shrinks as the peer reads.
 */
const sent = (socket: Socket): number => {
  const internals = tcpSocketOf(socket) as Socket & { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null }
  return (internals._bytesDispatched ?? internals.bytesWritten) - (internals._handle?.writeQueueSize ?? 0)
}

/** The writes and `end`s waiting for the socket to take our bytes, and the write timeout's timer. */
class WriteWait {
  readonly writers: Array<Resume<void>> = []
  timer: NodeJS.Timeout | undefined = undefined
  /** `sent` when the timer was armed. */
  mark = 0
}

/** The write timeout's check: the kernel took some of our bytes since the last one, or the time is up. */
function checkWrites(connection: SocketConnection) {
  const wait = connection.writeWait
  if (wait === undefined || connection.socket.destroyed) return
  wait.timer = undefined
  const now = sent(connection.socket)
  if (now !== wait.mark) return connection.armWriteTimer(wait, now)
  const millis = connection.limits.writeMillis!
  connection.timeOut(new TcpTimeoutError({ reason: "Write", address: connection.remote, timeout: Duration.millis(millis) }))
}

const endOfStream: Effect.Effect<undefined> = Effect.succeed(undefined)

/**
 * A class, not a closure per operation: a server holds one per open connection, so what each
 * costs in memory counts. Its Effects are made on first use; members that users pass around as
 * functions (`write`) are getters returning arrows, made per use rather than kept.
 */
export class SocketConnection implements Connection {
  failure: TcpError | undefined = undefined
  readsEnded = false
  stopped = false
  /** Bytes read from the OS and not yet taken by a read. */
  held: Buffer | undefined = undefined
  /** The oldest waiting read; the later ones, if any, in `queued`. The socket flows while one waits. */
  reader: Resume<Read> | undefined = undefined
  queued: Array<Resume<Read>> | undefined = undefined
  /** The owner's waiting read, if it waits: a later read of the owner finds it stale (a fiber waits for one thing at a time). */
  ownerReader: Resume<Read> | undefined = undefined
  /** The writes and `end`s waiting for the socket to take our bytes, if any. */
  writeWait: WriteWait | undefined = undefined
  /** For the idle timeout: the bytes moved both ways at the last look, and since when they have not changed. */
  moved = 0
  quietSince = 0

  constructor(
    readonly socket: Socket,
    readonly limits: Limits,
    /** The open sockets of the listener that accepted it, if any: it leaves them when closed. */
    readonly open: Set<Socket> | undefined
  ) {
    // Node keeps the address once asked, also after the socket is gone (a reset, say).
    void socket.remoteAddress
    ;(socket as OwnedSocket)[owned] = this
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
  declare proxied?: TcpAddress

  get remote(): Address {
    if (this.proxied !== undefined) return this.proxied
    const path = this.limits.path
    if (path !== undefined) return unixAddress(path)
    return tcpAddress(this.socket.remoteAddress ?? "unknown", this.socket.remotePort ?? 0)
  }

  get local(): Address {
    const path = this.limits.path
    if (path !== undefined) return unixAddress(path)
    return tcpAddress(this.socket.localAddress ?? "unknown", this.socket.localPort ?? 0)
  }

  get tls(): TlsSession | undefined {
    return isTls(this.socket) ? session(this.socket) : undefined
  }

  // Reads

  /** A chunk from the OS: held for the oldest waiting read, or, with none waiting, held with the socket paused. */
  received(chunk: Buffer) {
    const metrics = this.limits.metrics
    if (metrics !== undefined) metrics.bytesReceived += chunk.length
    const reader = this.reader
    if (reader !== undefined && reader === this.ownerReader && this.held === undefined) {
      // The owner's read (a server's loop), alone: handed the chunk itself.
      this.dequeue()
      return wake(reader, Effect.succeed(chunk))
    }
    const held = this.held
    this.held = held === undefined ? chunk : Buffer.concat([held, chunk])
    if (reader === undefined) this.socket.pause()
    else wake(this.dequeue()!, this.take)
  }

  /** The oldest waiting read, removed from the queue. */
  dequeue(): Resume<Read> | undefined {
    const reader = this.reader
    if (reader === undefined) return undefined
    const queued = this.queued
    this.reader = queued === undefined ? undefined : queued.shift()
    if (reader === this.ownerReader) this.ownerReader = undefined
    return reader
  }

  /** Removes a waiting read; with none left, the socket stops reading from the OS. */
  cancel(reader: Resume<Read>) {
    if (this.reader === reader) {
      this.reader = this.queued?.shift()
    } else {
      const index = this.queued?.indexOf(reader) ?? -1
      if (index !== -1) this.queued!.splice(index, 1)
    }
    if (this.ownerReader === reader) this.ownerReader = undefined
    if (this.reader === undefined && !this.socket.destroyed) this.socket.pause()
  }

  /** What a read gets without waiting, if anything: held bytes, the end, or the failure. */
  nextRead(): Effect.Effect<Read, TcpError> | undefined {
    if (this.stopped) return endOfStream
    const held = this.held
    if (held !== undefined) {
      // The socket reads from the OS again when a read waits (a lent buffer stays as it is until then).
      this.held = undefined
      return Effect.succeed(held)
    }
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.readsEnded) return endOfStream
    return undefined
  }

  /**
   * Serves a read at once (`false`), or queues it (`true`): reads are served in order, so with
   * earlier reads waiting a new one waits behind them.
   */
  enqueue(resume: Resume<Read>): boolean {
    if (this.reader === undefined) {
      const next = this.nextRead()
      if (next !== undefined) {
        resume(next)
        return false
      }
      this.reader = resume
    } else {
      ;(this.queued ??= []).push(resume)
    }
    if (this.socket.isPaused() && !this.readsEnded) this.socket.resume()
    return true
  }

  /** What a woken read runs: takes what came, or, when an earlier read took it meanwhile, waits again. */
  get take(): Effect.Effect<Read, TcpError> {
    return Effect.suspend(() => this.nextRead() ?? this.read)
  }

  wakeReaders() {
    for (let reader = this.dequeue(); reader !== undefined; reader = this.dequeue()) wake(reader, this.take)
  }

  /** The owner's read: see `ownerRead`. */
  registerOwnerRead(resume: Resume<Read>) {
    const stale = this.ownerReader
    if (stale !== undefined) this.cancel(stale)
    if (this.enqueue(resume)) this.ownerReader = resume
  }

  private _read: Effect.Effect<Read, TcpError> | undefined
  /** A read removed from the queue when interrupted. */
  get read(): Effect.Effect<Read, TcpError> {
    return this._read ??= Effect.async<Read, TcpError>((resume) => {
      if (this.enqueue(resume)) return Effect.sync(() => this.cancel(resume))
    })
  }

  get readLent(): Effect.Effect<Read, TcpError> {
    return this.read
  }

  get reads(): Stream.Stream<Uint8Array, TcpError> {
    return readsOf(this.read)
  }

  // Writes

  closedError() {
    return TcpSocketError.closed(this.remote)
  }

  get unsafeWrite(): (bytes: Uint8Array) => Effect.Effect<void, TcpError> | undefined {
    return (bytes) => this.writeNow(bytes)
  }

  writeNow(bytes: Uint8Array): Effect.Effect<void, TcpError> | undefined {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    const socket = this.socket
    if (!socket.writable) return Effect.fail(this.closedError())
    const metrics = this.limits.metrics
    if (metrics !== undefined) metrics.bytesSent += bytes.length
    if (socket.write(bytes)) return undefined
    return this.drained
  }

  get write(): (bytes: Uint8Array) => Effect.Effect<void, TcpError> {
    return (bytes) => Effect.suspend(() => this.writeNow(bytes) ?? Effect.void)
  }

  /** After a wait: failed if the connection failed, or, for a write (not an `end`), if it closed meanwhile. */
  writeOutcome(ending: boolean): Effect.Effect<void, TcpError> {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    return !ending && this.socket.destroyed ? Effect.fail(this.closedError()) : Effect.void
  }

  /** Waits among the writers until `done()` says the socket took our bytes (woken by 'drain', 'finish' or 'close'). */
  awaitWriters(done: () => boolean, ending: boolean): Effect.Effect<void, TcpError> {
    return Effect.async<void, TcpError>((resume) => {
      if (done() || this.socket.destroyed) return resume(this.writeOutcome(ending))
      const waiter: Resume<void> = () => resume(this.writeOutcome(ending))
      let wait = this.writeWait
      if (wait === undefined) {
        wait = this.writeWait = new WriteWait()
        // Listened to from the first wait on: most connections never wait for the peer to read.
        if (!this.socket.listeners("drain").includes(onDrain)) this.socket.on("drain", onDrain)
        if (this.limits.writeMillis !== undefined) this.armWriteTimer(wait, sent(this.socket))
      }
      wait.writers.push(waiter)
      return Effect.sync(() => this.leaveWriters(waiter))
    })
  }

  get drained(): Effect.Effect<void, TcpError> {
    return this.awaitWriters(() => !this.socket.writableNeedDrain, false)
  }

  get finished(): Effect.Effect<void, TcpError> {
    return this.awaitWriters(() => this.socket.writableFinished, true)
  }

  armWriteTimer(wait: WriteWait, mark: number) {
    wait.mark = mark
    wait.timer = setTimeout(checkWrites, this.limits.writeMillis!, this).unref()
  }

  leaveWriters(waiter: Resume<void>) {
    const wait = this.writeWait
    if (wait === undefined) return
    const index = wait.writers.indexOf(waiter)
    if (index !== -1) wait.writers.splice(index, 1)
    if (wait.writers.length === 0) this.stopWaiting(wait)
  }

  stopWaiting(wait: WriteWait) {
    this.writeWait = undefined
    clearTimeout(wait.timer)
  }

  /** The socket took our bytes (or closed): every waiting write and `end` goes on. */
  wakeWriters() {
    const wait = this.writeWait
    if (wait === undefined) return
    this.stopWaiting(wait)
    for (const writer of wait.writers) wake(writer, Effect.void)
  }

  wakeAll() {
    this.wakeReaders()
    this.wakeWriters()
  }

  get end(): Effect.Effect<void, TcpError> {
    return Effect.suspend(() => {
      const socket = this.socket
      if (socket.destroyed || socket.writableFinished) return Effect.void
      if (!socket.writableEnded) {
        socket.end()
        socket.once("finish", onDrain)
      }
      return this.finished
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
      this.wakeReaders()
    })
  }

  get bytesRead(): () => number {
    return () => this.socket.bytesRead
  }

  get bytesWritten(): () => number {
    return () => this.socket.bytesWritten
  }

  // Timeouts

  /**
   * The idle check, at `now` (ms): times the connection out when no bytes moved either way for
   * the idle timeout; else returns how long it has been quiet.
   */
  idleFor(now: number): number {
    const socket = this.socket
    const moved = socket.bytesRead + (socket.bytesWritten ?? 0)
    if (moved !== this.moved || this.quietSince === 0) {
      this.moved = moved
      this.quietSince = now
      return 0
    }
    const quiet = now - this.quietSince
    const idleMillis = this.limits.idleMillis!
    if (quiet < idleMillis || socket.destroyed) return quiet
    this.timeOut(new TcpTimeoutError({ reason: "Idle", address: this.remote, timeout: Duration.millis(idleMillis) }))
    return quiet
  }

  /** Cuts the connection off. A stuck reader gets a reset: it frees the kernel's send buffer, which a FIN would wait behind. */
  timeOut(error: TcpTimeoutError) {
    if (this.failure !== undefined) return
    this.failure = error
    this.limits.metrics?.add(connectionsTimedOut)
    if (error.reason === "Write") reset(this.socket)
    else this.socket.destroy()
  }
}

/** The connections by the fiber that owns each (a server's fiber for it), whose end closes it. */
const byOwner = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, SocketConnection>()

/** Makes `fiber` the owner of `connection`: its end closes the connection, so its reads need no canceler. */
export const own = (connection: Connection, fiber: Fiber.RuntimeFiber<unknown, unknown>): void => {
  if (connection instanceof SocketConnection) byOwner.set(fiber, connection)
}

/**
 * The read of an owner fiber, one Effect for all connections (the connection is its fiber's):
 * no canceler (interrupted, the owner ends and the connection is closed), and a later read of the
 * owner finds an earlier one of its own stale (a fiber waits for one thing at a time).
 */
const ownerRead: Effect.Effect<Read, TcpError> = Effect.async<Read, TcpError>((resume) => {
  byOwner.get(Option.getOrThrow(Fiber.getCurrentFiber()))!.registerOwnerRead(resume)
})

/**
 * The read a loop running in `fiber` uses: the owner's, if `fiber` owns the connection (a
 * server's loop, on its hot path), else the connection's `read`.
 */
export const readIn = (connection: Connection, fiber: Fiber.RuntimeFiber<unknown, unknown>): Effect.Effect<Read, TcpError> =>
  byOwner.get(fiber) === connection ? ownerRead : connection.read

/** Holds a connection's writes back, to go out in one write at `uncork` (a connection made elsewhere writes as usual). */
export const cork = (connection: Connection): void => {
  if (connection instanceof SocketConnection) connection.socket.cork()
}

export const uncork = (connection: Connection): void => {
  if (connection instanceof SocketConnection) connection.socket.uncork()
}

/** Whether a connection's socket is still open (a connection made elsewhere is taken to be). */
export const isOpen = (connection: Connection): boolean => !(connection instanceof SocketConnection) || !connection.socket.destroyed

/** The reads of a connection as a Stream, ending at end of stream. */
const readsOf = (read: Effect.Effect<Read, TcpError>): Stream.Stream<Uint8Array, TcpError> =>
  Stream.repeatEffectOption(Effect.flatMap(
    Effect.mapError(read, Option.some),
    (chunk) => chunk === undefined ? Effect.fail(Option.none()) : Effect.succeed(chunk)
  ))

/**
 * The `onread` callback of a socket that reads into one buffer of its own: each read is a view of
 * the buffer, and the socket stops reading from the OS until it is taken (a read resumes it), so
 * the buffer is not overwritten while lent. Plain TCP only: a TLS socket goes on delivering after
 * `pause()`, into the same buffer.
 */
export function onReadInto(this: Socket, length: number, buffer: Buffer): boolean {
  // pause(), not returning false: that would stop the reads without the socket knowing it is paused.
  this.pause()
  ofSocket(this)!.received(buffer.subarray(0, length))
  return true
}

const copy = (bytes: Read): Read => bytes === undefined ? undefined : Buffer.from(bytes)

/**
 * A connection whose socket reads into one buffer of its own (`onReadInto`): `readLent` lends
 * views of it; `read`, and so `reads`, copy them, as their bytes may be kept.
 */
class BufferedConnection extends SocketConnection {
  private _copied: Effect.Effect<Read, TcpError> | undefined

  override get readLent(): Effect.Effect<Read, TcpError> {
    return super.read
  }

  override get read(): Effect.Effect<Read, TcpError> {
    return this._copied ??= Effect.map(super.read, copy)
  }
}

/** A timeout in milliseconds; none for an infinite or zero duration (0 turns a timeout off). */
export const toMillis = (input: Duration.DurationInput | undefined): number | undefined => {
  if (input === undefined) return undefined
  const millis = Duration.toMillis(Duration.decode(input))
  return Number.isFinite(millis) && millis > 0 ? millis : undefined
}

/**
 * The limits of connections made with these timeouts (on the Unix socket at `path`, if given),
 * counted by `metrics`, if given.
 */
export const limits = (
  options: { readonly idleTimeout?: Duration.DurationInput | undefined; readonly writeTimeout?: Duration.DurationInput | undefined },
  path: string | undefined,
  metrics: Recorder | undefined
): Limits => ({ idleMillis: toMillis(options.idleTimeout), writeMillis: toMillis(options.writeTimeout), path, metrics })

/**
 * Wraps a connected socket (paused: it flows only while a read waits): an accepted one in its
 * listener's set of open sockets until it closes; a client's, with an idle timeout, in the set
 * its idle sweep looks at. `buffered`: the socket was made with `onread: { buffer, callback: onReadInto }`.
 */
export const make = (socket: Socket, limits: Limits, open?: Set<Socket>, buffered = false): SocketConnection =>
  new (buffered ? BufferedConnection : SocketConnection)(
    socket,
    limits,
    open ?? (limits.idleMillis === undefined ? undefined : Idle.clients(limits.idleMillis))
  )

/**
 * What the PROXY protocol header of an accepted connection said: the client, if it named one,
 * becomes its `remote`; `rest`, the bytes that came after the header, its next read (before
 * anything read since).
 */
export const setProxied = (connection: Connection, client: TcpAddress | undefined, rest: Uint8Array): void => {
  if (client !== undefined) (connection as SocketConnection).proxied = client
  unread(connection, rest)
}

/** Gives bytes back: the next read gets them first, before anything read since. */
export const unread = (connection: Connection, bytes: Uint8Array): void => {
  if (bytes.length === 0) return
  const socketConnection = connection as SocketConnection
  const first = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const held = socketConnection.held
  socketConnection.held = held === undefined ? first : Buffer.concat([first, held])
}
