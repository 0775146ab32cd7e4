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
import * as Metrics from "../metrics/metrics.js"
import { TcpSocketError, TcpTimeoutError } from "./errors.js"

/** What can end a connection's reads or writes with an error. */
export type TcpError = TcpSocketError | TcpTimeoutError

export interface TcpConnection {
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
export const TcpConnection = Context.GenericTag<TcpConnection>("effect-net/TcpConnection")

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
 * Wraps a connected socket. The caller owns it: `close` it when done (the listener and the
 * client do so when their scopes close).
 */
export const fromSocket = (socket: Socket, options: TcpConnectionOptions = {}): TcpConnection => {
  const remote = { host: socket.remoteAddress ?? "unknown", port: socket.remotePort ?? 0 }
  const local = { host: socket.localAddress ?? "unknown", port: socket.localPort ?? 0 }
  const peer = formatAddress(remote)
  const idleMillis = toMillis(options.idleTimeout)
  const writeMillis = toMillis(options.writeTimeout)

  let failure: TcpError | undefined
  let readsEnded = false
  let stopped = false
  /** The reads' consumer, while it waits for the socket to become readable. */
  let reader: ((resume: Effect.Effect<Option.Option<Uint8Array>, TcpError>) => void) | undefined
  const drained = Effect.unsafeMakeLatch(true)

  /** Cuts the connection off. A stuck reader gets a reset: it frees the kernel's send buffer, which a FIN would wait behind. */
  const timeOut = (error: TcpTimeoutError) => {
    if (failure !== undefined) return
    failure = error
    Metrics.connectionsTimedOut.unsafeUpdate(1, Metrics.noTags)
    if (error.kind === "Write") socket.resetAndDestroy()
    else socket.destroy()
  }
  /**
   * Hands the waiting reader what is there now, read in the event's callback (cheaper than in
   * the reader's fiber). When nothing is there yet, the reader looks again once it runs: a
   * 'readable' at end of stream comes a tick before 'end', itself before the fiber runs.
   */
  const wakeReader = () => {
    const resume = reader
    if (resume === undefined) return
    reader = undefined
    const next = nextRead()
    resume(next === awaitRead ? read : next)
  }
  const wakeAll = () => {
    wakeReader()
    drained.unsafeOpen()
  }
  socket.on("readable", wakeReader)
  socket.on("end", () => {
    readsEnded = true
    wakeReader()
  })
  socket.on("drain", () => drained.unsafeOpen())
  // An 'error' listener must exist, or Node turns a reset into an uncaught exception.
  socket.on("error", (cause) => {
    failure ??= new TcpSocketError({ remote: peer, cause })
    wakeAll()
  })
  socket.on("close", wakeAll)

  // One timer per connection, re-armed with refresh() each time a read waits: cheap on the hot path.
  const idleTimer = idleMillis === undefined ? undefined : setTimeout(() => {
    if (reader !== undefined) timeOut(new TcpTimeoutError({ remote: peer, kind: "Idle", seconds: idleMillis / 1000 }))
  }, idleMillis).unref()
  socket.once("close", () => clearTimeout(idleTimer))

  const checkFailure = Effect.suspend(() => failure !== undefined ? Effect.fail(failure) : Effect.void)
  // No canceler: it would cost more Effect operations per read than everything else. A reader
  // interrupted while waiting leaves `reader` set; resuming a finished fiber is a no-op.
  const awaitRead = Effect.async<Option.Option<Uint8Array>, TcpError>((resume) => {
    reader = resume
    idleTimer?.refresh()
  })
  const endOfReads = Effect.succeed(Option.none<Uint8Array>())
  function nextRead(): Effect.Effect<Option.Option<Uint8Array>, TcpError> {
    if (stopped) return endOfReads
    const data: Buffer | null = socket.read()
    if (data !== null) {
      Metrics.bytesReceived.unsafeUpdate(data.length, Metrics.noTags)
      return Effect.succeed(Option.some(data))
    }
    if (failure !== undefined) return Effect.fail(failure)
    if (readsEnded || socket.destroyed) return endOfReads
    return awaitRead
  }
  const read = Effect.suspend(nextRead)

  const closedError = () => new TcpSocketError({ remote: peer, cause: new Error("it is closed") })
  const checkWritable = Effect.zipRight(
    checkFailure,
    Effect.suspend(() => socket.destroyed ? Effect.fail(closedError()) : Effect.void)
  )

  /** Bounds a wait for the peer to take our data by the write timeout; a stuck peer is cut off. */
  const bounded = (wait: Effect.Effect<void, TcpError>): Effect.Effect<void, TcpError> =>
    writeMillis === undefined ? wait : wait.pipe(Effect.timeoutFail({
      duration: writeMillis,
      onTimeout: () => {
        const error = new TcpTimeoutError({ remote: peer, kind: "Write", seconds: writeMillis / 1000 })
        timeOut(error)
        return error
      }
    }))
  const awaitDrained = bounded(Effect.zipRight(drained.await, checkWritable))

  const write = (bytes: Uint8Array): Effect.Effect<void, TcpError> =>
    Effect.suspend(() => {
      if (failure !== undefined) return Effect.fail(failure)
      if (!socket.writable) return Effect.fail(closedError())
      Metrics.bytesSent.unsafeUpdate(bytes.length, Metrics.noTags)
      if (socket.write(bytes)) return Effect.void
      drained.unsafeClose()
      return awaitDrained
    })

  const end = Effect.suspend(() => {
    if (socket.destroyed || socket.writableFinished) return Effect.void
    return bounded(Effect.async<void, TcpError>((resume) => {
      const done = () => resume(checkFailure)
      socket.once("finish", done)
      socket.once("close", done)
      socket.end()
      return Effect.sync(() => {
        socket.off("finish", done)
        socket.off("close", done)
      })
    }))
  })

  return {
    local,
    remote,
    read,
    reads: Stream.repeatEffectOption(Effect.flatMap(
      Effect.mapError(read, Option.some),
      Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed })
    )),
    write,
    end,
    close: Effect.sync(() => {
      socket.destroy()
    }),
    stopReading: Effect.sync(() => {
      stopped = true
      wakeReader()
    }),
    bytesRead: () => socket.bytesRead,
    bytesWritten: () => socket.bytesWritten
  }
}
