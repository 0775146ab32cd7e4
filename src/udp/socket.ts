/**
 * A bound UDP socket over `node:dgram` as a scoped resource: bound when acquired, closed when
 * the scope closes. Incoming datagrams are a Stream; sending is an Effect that fails with a
 * tagged error instead of an 'error' event. @effect/platform 0.97 has no UDP at all.
 *
 * UDP has no flow control: a dgram socket cannot be paused, so between it and the consumer sits
 * a bounded buffer. When the consumer falls behind and the buffer is full, new datagrams are
 * dropped (as the kernel does when its own buffer is full) and counted, never held without limit.
 * A consumer that can start on only a few datagrams takes only those (`receiveUpTo`): the rest
 * stay in the buffer, so the bound is the buffer's size, not that plus what was taken. It may also
 * bound how long one waits there: those older are dropped when it takes, as an answer that late
 * is of no use.
 *
 * The hot path: Node runs microtasks after each datagram's callback, so waking the consumer
 * from the callback would cost a fiber resumption per datagram. The consumer is woken once per
 * event-loop turn instead (setImmediate), and takes every datagram of that turn as one chunk;
 * `sendAll` answers such a chunk with one wait.
 *
 * Broadcast and multicast are options of the socket (`broadcast`, `multicastGroups`, ...) and,
 * for groups, `joinGroup`/`leaveGroup` while it is open. To receive a group's datagrams, bind the
 * group's address (only its datagrams arrive) or the wildcard, not a unicast address.
 */
import { Cause, Chunk, Context, Duration, Effect, Layer, Option, Runtime, type Scope, Stream } from "effect"
import * as Dgram from "node:dgram"
import { isIPv6 } from "node:net"
import { formatAddress, type UdpAddress, udpAddress } from "../address.js"
import { describeError } from "../internal/os-error.js"
import * as Metrics from "../metrics/metrics.js"
import { UdpBindError, UdpMulticastError, UdpSendError } from "./errors.js"
import { multicast, type MulticastOptions } from "./multicast.js"

/** One datagram: as received, its sender; to send, its destination. */
export interface Datagram {
  readonly data: Uint8Array
  readonly address: UdpAddress
}

export interface UdpSocketOptions extends MulticastOptions {
  /** Address to bind; default 127.0.0.1. An IPv6 address (`::1`, `::`) makes an IPv6 socket. */
  readonly host?: string | undefined
  /** Port to bind; 0 (the default) lets the OS pick a free one, see `address`. */
  readonly port?: number | undefined
  /** Most datagrams waiting for the consumer of `datagrams`; more are dropped. Default 1024. */
  readonly bufferSize?: number | undefined
  /**
   * Lets other sockets bind the same address and port (SO_REUSEADDR): for several members of a
   * multicast group on one host. Default false.
   */
  readonly reuseAddress?: boolean | undefined
  /** Allows sending to broadcast addresses (SO_BROADCAST), such as 255.255.255.255. Default false. */
  readonly broadcast?: boolean | undefined
  /**
   * In a cluster worker, bind a socket of this worker's own (the default); false shares the one
   * the cluster's primary holds for this address and port with the other workers (a server run
   * in several workers, see `Cluster`). Outside a cluster it makes no difference.
   */
  readonly exclusive?: boolean | undefined
}

export interface UdpSocket {
  /** The bound address, with the real port when port 0 was asked. */
  readonly address: UdpAddress
  /** The largest datagram this socket can send: 65507 bytes over IPv4, 65527 over IPv6. */
  readonly maxDatagramBytes: number
  /**
   * The datagrams received from the moment the socket was bound, in order, in chunks of those
   * that arrived together. Ends when the socket's scope closes, after the datagrams still
   * buffered. Several consumers share them (each datagram goes to one).
   */
  readonly datagrams: Stream.Stream<Datagram>
  /**
   * What `datagrams` is made of, for a loop that wants no Stream machinery per chunk: the
   * datagrams waiting, or else the next ones to arrive; `NoSuchElementException` once the socket
   * is closed (or `stopReceiving` was called) and none is left. Interruptible only while it
   * waits: run it uninterruptibly together with what takes the datagrams over, and an
   * interruption never loses one that was taken.
   */
  readonly receive: Effect.Effect<Chunk.Chunk<Datagram>, Cause.NoSuchElementException>
  /**
   * `receive`, taking at most `max` datagrams (at least 1); the others keep waiting in the
   * buffer. With `maxWait`, those that have waited longer than it are dropped first.
   */
  readonly receiveUpTo: (
    max: number,
    maxWait?: Duration.Duration | undefined
  ) => Effect.Effect<Chunk.Chunk<Datagram>, Cause.NoSuchElementException>
  /**
   * Stops taking datagrams in, for a server that is shutting down but still sends: those waiting
   * and those that arrive from now on are dropped (and counted), and `receive` ends. Returns how
   * many were waiting.
   */
  readonly stopReceiving: Effect.Effect<number>
  /**
   * Joins a multicast group on `iface` (default: the socket's `multicastInterface`, else the
   * system's choice): from now on the socket receives the group's datagrams.
   */
  readonly joinGroup: (group: string, iface?: string) => Effect.Effect<void, UdpMulticastError>
  /** Leaves a group joined before (on the same interface). */
  readonly leaveGroup: (group: string, iface?: string) => Effect.Effect<void, UdpMulticastError>
  /** Sends one datagram; completes once the OS has taken it. */
  readonly send: (data: Uint8Array, to: UdpAddress) => Effect.Effect<void, UdpSendError>
  /** Sends each datagram to its address, with one wait for them all; returns the failures. */
  readonly sendAll: (datagrams: ReadonlyArray<Datagram>) => Effect.Effect<ReadonlyArray<UdpSendError>>
  /** Datagrams received so far, dropped ones included. */
  readonly received: () => number
  /**
   * Datagrams dropped so far: the buffer was full (the consumer fell behind), they had waited
   * longer than a `receiveUpTo`'s `maxWait`, or they were waiting or arrived after
   * `stopReceiving`. Received = taken + waiting + dropped.
   */
  readonly dropped: () => number
  /** Datagrams in the buffer now, waiting to be taken: at most `bufferSize`. */
  readonly waiting: () => number
}

export { isMulticast, type MulticastMembership, type MulticastOptions } from "./multicast.js"

/** The socket a UDP server serves on, or a client talks through. */
export const UdpSocket: Context.Tag<UdpSocket, UdpSocket> = Context.GenericTag<UdpSocket>("effect-net/UdpSocket")

export const defaults = {
  host: "127.0.0.1",
  bufferSize: 1024
} as const

/** The wildcard address of `host`'s family: what a client binds to talk to `host`. */
export const anyAddressFor = (host: string): string => isIPv6(host) ? "::" : "0.0.0.0"

/** A `UdpAddress` from Node's `{ address, port }` (a sender's, or the bound one). */
const toAddress = ({ address, port }: { readonly address: string; readonly port: number }): UdpAddress => udpAddress(address, port)

const closed = Effect.fail(new Cause.NoSuchElementException("the UDP socket is closed"))

/**
 * A datagram in the buffer, with the time it came: `performance.now()` in whole milliseconds, a
 * small integer that V8 stores in the object itself (a fraction would be a number object of its
 * own, one more allocation per datagram).
 */
interface Waiting extends Datagram {
  readonly receivedAt: number
}

/** Binds; the scope closes the socket and ends `datagrams`. */
export const make = (
  options: UdpSocketOptions = {}
): Effect.Effect<UdpSocket, UdpBindError | UdpMulticastError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? defaults.host
    const port = options.port ?? 0
    const bufferSize = options.bufferSize ?? defaults.bufferSize
    const runtime = yield* Effect.runtime<never>()

    // The datagrams waiting are buffer[head...]: a partial take moves `head` instead of copying.
    let buffer: Array<Waiting> = []
    let head = 0
    const waiting = () => buffer.length - head
    let open = true
    let receiving = true
    let consumerWaiting = false
    let wakeScheduled = false
    const readable = Effect.unsafeMakeLatch(false)
    const wake = () => {
      wakeScheduled = false
      readable.unsafeOpen()
    }

    let received = 0
    let dropped = 0
    const drop = (count: number) => {
      dropped += count
      Metrics.datagramsDropped.unsafeUpdate(count, Metrics.noTags)
    }
    const onMessage = (data: Buffer, from: Dgram.RemoteInfo) => {
      received++
      Metrics.datagramsReceived.unsafeUpdate(1, Metrics.noTags)
      Metrics.datagramBytesReceived.unsafeUpdate(data.length, Metrics.noTags)
      if (!receiving || waiting() >= bufferSize) return drop(1)
      buffer.push({ data, address: toAddress(from), receivedAt: Math.floor(performance.now()) })
      if (consumerWaiting && !wakeScheduled) {
        wakeScheduled = true
        setImmediate(wake)
      }
    }

    // Sends report their errors to their callbacks; anything else (a failed receive) must not
    // become an uncaught exception.
    const runSync = Runtime.runSync(runtime)
    const onError = (where: string) => (cause: Error) =>
      runSync(Effect.logWarning(`UDP socket ${where}: ${describeError(cause)}; still serving`))

    const socket = yield* Effect.acquireRelease(
      Effect.async<Dgram.Socket, UdpBindError>((resume) => {
        const socket = Dgram.createSocket({ type: isIPv6(host) ? "udp6" : "udp4", reuseAddr: options.reuseAddress ?? false })
        const onBindError = (cause: Error) => {
          socket.close()
          resume(Effect.fail(UdpBindError.fromCause(udpAddress(host, port), cause)))
        }
        socket.once("error", onBindError)
        socket.bind({ address: host, port, exclusive: options.exclusive ?? true }, () => {
          // Listening at once: an event before the fiber resumes would be lost, or uncaught.
          socket.off("error", onBindError)
          socket.on("error", onError(formatAddress(toAddress(socket.address()))))
          socket.on("message", onMessage)
          try {
            if (options.broadcast === true) socket.setBroadcast(true)
          } catch (cause) {
            return onBindError(cause as Error)
          }
          resume(Effect.succeed(socket))
        })
      }),
      (socket) =>
        Effect.async<void>((resume) => {
          open = false
          readable.unsafeOpen()
          socket.close(() => resume(Effect.void))
        })
    )

    const awaitReadable = Effect.interruptible(readable.await).pipe(Effect.ensuring(Effect.sync(() => {
      consumerWaiting = false
    })))
    /** Moves past the first `count` datagrams waiting. */
    const skip = (count: number) => {
      head += count
      if (head === buffer.length) {
        buffer = []
        head = 0
      } else if (head >= bufferSize) {
        // Compact now and then, so that the array stays within twice the bound.
        buffer = buffer.slice(head)
        head = 0
      }
    }
    /** Takes up to `max` of the datagrams waiting (there is at least one). */
    const take = (max: number): Chunk.Chunk<Datagram> => {
      if (max >= waiting()) {
        const taken = head === 0 ? buffer : buffer.slice(head)
        buffer = []
        head = 0
        return Chunk.unsafeFromArray(taken)
      }
      const taken = buffer.slice(head, head + max)
      skip(max)
      return Chunk.unsafeFromArray(taken)
    }
    /** Drops the datagrams that came before `since` (the oldest are first). */
    const dropOlder = (since: number) => {
      let first = head
      while (first < buffer.length && buffer[first]!.receivedAt < since) first++
      if (first === head) return
      drop(first - head)
      skip(first - head)
    }
    const receiveUpTo = (
      max: number,
      maxWait?: Duration.Duration
    ): Effect.Effect<Chunk.Chunk<Datagram>, Cause.NoSuchElementException> => {
      const maxWaitMillis = maxWait === undefined ? undefined : Duration.toMillis(maxWait)
      return Effect.suspend(function next(): Effect.Effect<Chunk.Chunk<Datagram>, Cause.NoSuchElementException> {
        if (maxWaitMillis !== undefined && waiting() > 0) dropOlder(performance.now() - maxWaitMillis)
        if (waiting() > 0) return Effect.succeed(take(Math.max(1, max)))
        if (!open || !receiving) return closed
        readable.unsafeClose()
        consumerWaiting = true
        return Effect.flatMap(awaitReadable, next)
      })
    }

    const stopReceiving = Effect.sync(() => {
      if (!receiving) return 0
      receiving = false
      const count = waiting()
      buffer = []
      head = 0
      drop(count)
      readable.unsafeOpen()
      return count
    })

    /** Hands one datagram to Node; `done` gets the error, if any. Bad ports and a closed socket throw at once. */
    const sendOne = ({ data, address }: Datagram, done: (error: UdpSendError | undefined) => void) => {
      const fail = (cause: unknown) => done(UdpSendError.fromCause(address, data.length, cause))
      const sent = () => {
        Metrics.datagramBytesSent.unsafeUpdate(data.length, Metrics.noTags)
        done(undefined)
      }
      try {
        socket.send(data, address.port, address.hostname, (cause) => cause === null ? sent() : fail(cause))
      } catch (cause) {
        fail(cause)
      }
    }

    const send = (data: Uint8Array, to: UdpAddress): Effect.Effect<void, UdpSendError> =>
      Effect.async<void, UdpSendError>((resume) =>
        sendOne({ data, address: to }, (error) => resume(error === undefined ? Effect.void : Effect.fail(error)))
      )

    const noFailures: ReadonlyArray<UdpSendError> = []
    const sendAll = (datagrams: ReadonlyArray<Datagram>): Effect.Effect<ReadonlyArray<UdpSendError>> =>
      datagrams.length === 0 ? Effect.succeed(noFailures) : Effect.async((resume) => {
        let pending = datagrams.length
        let failures: Array<UdpSendError> | undefined
        const done = (error: UdpSendError | undefined) => {
          if (error !== undefined) (failures ??= []).push(error)
          if (--pending === 0) resume(Effect.succeed(failures ?? noFailures))
        }
        for (const datagram of datagrams) sendOne(datagram, done)
      })

    const { joinGroup, leaveGroup, setUp } = multicast(socket, isIPv6(host) ? "IPv6" : "IPv4", options)
    yield* setUp
    const receive = receiveUpTo(Infinity)
    const address = toAddress(socket.address())
    return {
      address,
      maxDatagramBytes: isIPv6(address.hostname) ? 65527 : 65507,
      datagrams: Stream.repeatEffectChunkOption(Effect.mapError(receive, () => Option.none())),
      receive,
      receiveUpTo,
      stopReceiving,
      joinGroup,
      leaveGroup,
      send,
      sendAll,
      received: () => received,
      dropped: () => dropped,
      waiting
    } satisfies UdpSocket
  })

/** The socket as a layer, for programs that serve on it or talk through it. */
export const layer = (options: UdpSocketOptions = {}): Layer.Layer<UdpSocket, UdpBindError | UdpMulticastError> =>
  Layer.scoped(UdpSocket, make(options))
