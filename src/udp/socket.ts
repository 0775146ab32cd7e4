/**
 * A bound UDP socket over `node:dgram` as a scoped resource: bound when acquired, closed when
 * the scope closes. Incoming datagrams are a Stream; sending is an Effect that fails with a
 * tagged error instead of an 'error' event. (@effect/platform has no UDP.)
 *
 * UDP has no flow control: a dgram socket cannot be paused, so between it and the consumer sits
 * a bounded buffer. When the consumer falls behind and the buffer is full, new datagrams are
 * dropped (as the kernel does when its own buffer is full) and counted, never held without limit.
 * A consumer takes only as many as it can start on (`receiveUpTo`), so the bound stays the
 * buffer's size; it may also drop those that waited too long to be worth answering.
 *
 * Broadcast and multicast are options of the socket (`broadcast`, `multicastGroups`, ...) and,
 * for groups, `joinGroup`/`leaveGroup` while it is open. To receive a group's datagrams, bind the
 * group's address (only its datagrams arrive) or the wildcard, not a unicast address.
 *
 * @since 0.1.0
 * @module
 */
import { Cause, Chunk, Context, Duration, Effect, Layer, Option, Runtime, type Scope, Stream } from "effect"
import * as Dgram from "node:dgram"
import { isIPv6 } from "node:net"
import { formatAddress, type UdpAddress, udpAddress } from "../address.js"
import { describeError } from "../internal/os-error.js"
import { currentRecorder, datagramBytesReceived, datagramBytesSent, datagramsDropped, datagramsReceived } from "../internal/metrics.js"
import { UdpBindError, UdpMulticastError, UdpSendError } from "./errors.js"
import { multicast, type MulticastOptions } from "./multicast.js"

/**
 * One datagram: as received, its sender; to send, its destination.
 *
 * @example
 * ```ts
 * import { udpAddress, type UdpSocket } from "effect-net"
 *
 * // An answer goes back to where the question came from.
 * const answer = (question: UdpSocket.Datagram): UdpSocket.Datagram => ({
 *   data: new TextEncoder().encode(`got ${question.data.length} bytes`),
 *   address: question.address
 * })
 * const reply = answer({ data: new Uint8Array(3), address: udpAddress("127.0.0.1", 5000) })
 * console.log(new TextDecoder().decode(reply.data), reply.address.port) // got 3 bytes 5000
 * ```
 *
 * @since 0.1.0
 */
export interface Datagram {
  readonly data: Uint8Array
  readonly address: UdpAddress
}

/**
 * Where to bind, how many datagrams may wait for the consumer, and the socket's broadcast and
 * multicast settings.
 *
 * @example
 * ```ts
 * import { UdpSocket } from "effect-net"
 *
 * // A server on every IPv4 interface that lets a slow consumer fall behind by 4096 datagrams at most.
 * const server: UdpSocket.UdpSocketOptions = { host: "0.0.0.0", port: 9999, bufferSize: 4096 }
 * // One of several listeners to a multicast group on this host.
 * const member: UdpSocket.UdpSocketOptions = { host: "0.0.0.0", port: 5000, reuseAddress: true, multicastGroups: ["239.1.2.3"] }
 * ```
 *
 * @since 0.1.0
 */
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

/**
 * A bound UDP socket: its address, the datagrams it receives (a Stream, or pulled), and sends.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { UdpSocket } from "effect-net"
 *
 * // Two sockets on this machine: one sends, the other receives.
 * const program = Effect.gen(function*() {
 *   const receiver: UdpSocket.UdpSocket = yield* UdpSocket.make()
 *   const sender = yield* UdpSocket.make()
 *   yield* sender.send(new TextEncoder().encode("ping"), receiver.address)
 *   const [datagram] = yield* Stream.runCollect(Stream.take(receiver.datagrams, 1))
 *   const from = datagram.address.port === sender.address.port ? "the sender" : "someone else"
 *   return `${new TextDecoder().decode(datagram.data)} from ${from}`
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // ping from the sender
 * ```
 *
 * @since 0.1.0
 */
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

/**
 * The socket a UDP server serves on, or a client talks through: provided by `layer`, or with
 * `Effect.provideService` for one made with `make`.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { UdpSocket } from "effect-net"
 *
 * // Each datagram back to its sender, on whichever socket the program provides.
 * const echo = Effect.flatMap(UdpSocket.UdpSocket, (socket) =>
 *   Stream.runForEach(socket.datagrams, ({ address, data }) => Effect.ignore(socket.send(data, address))))
 * const program = Effect.provide(echo, UdpSocket.layer({ host: "0.0.0.0", port: 7 }))
 * ```
 *
 * @since 0.1.0
 */
export const UdpSocket: Context.Tag<UdpSocket, UdpSocket> = Context.GenericTag<UdpSocket>("effect-net/UdpSocket")

/**
 * The defaults of `UdpSocketOptions`.
 *
 * @example
 * ```ts
 * import { UdpSocket } from "effect-net"
 *
 * console.log(UdpSocket.defaults.host, UdpSocket.defaults.bufferSize) // 127.0.0.1 1024
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  bufferSize: 1024
} as const

/**
 * The wildcard address of `host`'s family: what a client binds to talk to `host`.
 *
 * @example
 * ```ts
 * import { UdpSocket } from "effect-net"
 *
 * console.log(UdpSocket.anyAddressFor("192.0.2.7"), UdpSocket.anyAddressFor("2001:db8::7")) // 0.0.0.0 ::
 * ```
 *
 * @since 0.1.0
 */
export const anyAddressFor = (host: string): string => isIPv6(host) ? "::" : "0.0.0.0"

/** A `UdpAddress` from Node's `{ address, port }` (a sender's, or the bound one). */
const toAddress = ({ address, port }: { readonly address: string; readonly port: number }): UdpAddress => udpAddress(address, port)

const closed = Effect.fail(new Cause.NoSuchElementException("the UDP socket is closed"))

/**
 * A datagram in the buffer, with the time it came: `performance.now()` in whole milliseconds, as
 * a small integer is stored in the object itself and a fraction would be one more allocation.
 */
interface Waiting extends Datagram {
  readonly receivedAt: number
}

/**
 * Binds; the scope closes the socket and ends `datagrams`. Fails with `UdpBindError` when the
 * address cannot be bound, and with `UdpMulticastError` when a multicast option cannot be applied.
 *
 * @example
 * ```ts
 * import { Chunk, Effect, Stream } from "effect"
 * import { UdpSocket } from "effect-net"
 *
 * // Three datagrams to itself, sent with one wait, received in order.
 * const program = Effect.gen(function*() {
 *   const socket = yield* UdpSocket.make({ host: "127.0.0.1", port: 0, bufferSize: 64 })
 *   const texts = ["a", "b", "c"].map((text) => ({ data: new TextEncoder().encode(text), address: socket.address }))
 *   yield* socket.sendAll(texts)
 *   const received = yield* Stream.runCollect(Stream.take(socket.datagrams, 3))
 *   return Chunk.map(received, ({ data }) => new TextDecoder().decode(data)).pipe(Chunk.join(" "))
 * })
 * console.log(await Effect.runPromise(Effect.scoped(program))) // a b c
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: UdpSocketOptions = {}
): Effect.Effect<UdpSocket, UdpBindError | UdpMulticastError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? defaults.host
    const port = options.port ?? 0
    const bufferSize = options.bufferSize ?? defaults.bufferSize
    const runtime = yield* Effect.runtime<never>()
    const metrics = yield* currentRecorder

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
      metrics?.add(datagramsDropped, count)
    }
    const onMessage = (data: Buffer, from: Dgram.RemoteInfo) => {
      received++
      if (metrics !== undefined) {
        metrics.add(datagramsReceived)
        metrics.add(datagramBytesReceived, data.length)
      }
      if (!receiving || waiting() >= bufferSize) return drop(1)
      buffer.push({ data, address: toAddress(from), receivedAt: Math.floor(performance.now()) })
      // Woken once per event-loop turn, not per datagram (a fiber resumption each): the consumer
      // takes that turn's datagrams as one chunk, and `sendAll` answers them with one wait.
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
        metrics?.add(datagramBytesSent, data.length)
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

/**
 * The socket as a layer, for programs that serve on it or talk through it: bound when the layer
 * is built, closed when it is released.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { UdpGreetingServer, UdpSocket } from "effect-net"
 *
 * const main = Layer.launch(UdpGreetingServer.layer().pipe(Layer.provide(UdpSocket.layer({ host: "0.0.0.0", port: 9999 }))))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: UdpSocketOptions = {}): Layer.Layer<UdpSocket, UdpBindError | UdpMulticastError> =>
  Layer.scoped(UdpSocket, make(options))
