/**
 * The tutorial's UDP greeting server over `UdpSocket`: each datagram is answered with the
 * datagram `Hello, <data>!` to its sender. No connection, no welcome, no exit.
 *
 * A trailing `\n` or `\r\n` is echoed after the `!` (as the TCP server's raw framing does), so
 * `echo Michael | nc -u` gets a line back and the tutorial's client gets `Hello, Michael!`.
 * An empty datagram gets `Hello, !`, as the tutorial's server answers it. A datagram whose reply
 * would not fit in one datagram gets `Error: datagram too long (max N bytes)\n` instead.
 *
 * @since 0.1.0
 * @module
 */
import { type Cause, Chunk, Duration, Effect, Fiber, FiberSet, Layer, type MetricPair, Schedule } from "effect"
import { logRoutine } from "../internal/log.js"
import { currentRecorder } from "../internal/metrics.js"
import * as Metrics from "../metrics/metrics.js"
import { rawMessage } from "../framing/raw.js"
import type { UdpSendError } from "../udp/errors.js"
import { type Datagram, UdpSocket } from "../udp/socket.js"
import * as Greeting from "./protocol.js"

/**
 * The delay before each reply, how many datagrams may wait out their delay at once, how long one
 * may wait for its turn, and the shutdown's grace.
 *
 * @example
 * ```ts
 * import { UdpGreetingServer } from "effect-net"
 *
 * // The TCP tutorial's pause, with at most 100 replies pending, each answered within 2 seconds or not at all.
 * const options: UdpGreetingServer.UdpGreetingServerOptions = { delay: "1 second", concurrency: 100, maxWait: "1 second" }
 * ```
 *
 * @since 0.1.0
 */
export interface UdpGreetingServerOptions {
  /** How long a shutdown waits for the delayed replies in flight to go out; default 5 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
  /** When this completes, a shutdown in progress stops waiting (a second Ctrl+C). */
  readonly forceShutdown?: Effect.Effect<void> | undefined
  /** Pause before each reply; default none (the tutorial's UDP server answers at once). */
  readonly delay?: Duration.DurationInput | undefined
  /**
   * With a delay, most datagrams waiting out their delay at once; default 1024. Beyond it, new
   * datagrams wait in the socket's buffer (not taken out of it), and are dropped when that is full.
   */
  readonly concurrency?: number | undefined
  /**
   * Longest wait for its turn (behind the datagrams before it, or for a free slot): one that
   * waited longer is dropped instead of answered late, so each is answered within this plus the
   * delay, or not at all. Default 3 s; 0 for no bound.
   */
  readonly maxWait?: Duration.DurationInput | undefined
}

/**
 * The defaults of `UdpGreetingServerOptions`.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { UdpGreetingServer } from "effect-net"
 *
 * const { delay, concurrency, maxWait } = UdpGreetingServer.defaults
 * console.log(Duration.format(delay), concurrency, Duration.format(maxWait)) // 0 1024 3s
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  delay: Duration.zero,
  concurrency: 1024,
  maxWait: Duration.seconds(3),
  shutdownGrace: Duration.seconds(5)
} as const

/**
 * What became of the datagrams a server received: each answered or dropped.
 *
 * @example
 * ```ts
 * import { UdpGreetingServer } from "effect-net"
 *
 * const outcome: UdpGreetingServer.Outcome = { received: 10, answered: 9, dropped: 1 }
 * console.log(outcome.answered / outcome.received) // 0.9
 * ```
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly received: number
  readonly answered: number
  readonly dropped: number
}

/**
 * A server's last line, as `serve` logs it when it stops.
 *
 * @example
 * ```ts
 * import { UdpGreetingServer } from "effect-net"
 *
 * console.log(UdpGreetingServer.summary({ received: 10, answered: 9, dropped: 1 })) // stopped: 10 datagram(s) received, 9 answered, 1 dropped
 * ```
 *
 * @since 0.1.0
 */
export const summary = ({ answered, dropped, received }: Outcome): string =>
  `stopped: ${received} datagram(s) received, ${answered} answered, ${dropped} dropped`

/**
 * The outcome the metrics count: a process's, or a cluster's summed over its workers.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { UdpGreetingServer } from "effect-net"
 *
 * // This process's counts, from Effect's metric registry, as the server's last line says them.
 * const outcome = Effect.map(Metric.snapshot, UdpGreetingServer.outcomeOf)
 * const line = Effect.map(outcome, UdpGreetingServer.summary)
 * ```
 *
 * @since 0.1.0
 */
export const outcomeOf = (metrics: ReadonlyArray<MetricPair.MetricPair.Untyped>): Outcome => ({
  received: Metrics.counterValue(metrics, "effect_net_udp_datagrams_received_total"),
  answered: Metrics.counterValue(metrics, "effect_net_udp_datagrams_answered_total"),
  dropped: Metrics.counterValue(metrics, "effect_net_udp_datagrams_dropped_total")
})

/** Warns, once a second at most, of datagrams dropped because they came faster than they were answered. */
const reportDrops = (socket: UdpSocket) => {
  let reported = 0
  return Effect.suspend(() => {
    const dropped = socket.dropped() - reported
    if (dropped === 0) return Effect.void
    reported += dropped
    return Effect.logWarning(
      `dropped ${dropped} datagram(s): they came faster than the server answers them (total ${reported})`
    )
  }).pipe(Effect.repeat(Schedule.spaced(Duration.seconds(1))))
}

/**
 * Answers datagrams until interrupted. Without a delay, the datagrams that arrived together are
 * answered together, in this fiber, with one wait for the OS. With a delay, each waits in a fiber
 * of its own, at most `concurrency` at once, so that a slow reply never holds up the others.
 *
 * Every datagram received ends answered or dropped, and is counted as such: dropped by the
 * socket when its buffer is full, when it waited there longer than `maxWait`, or at shutdown when
 * it was still waiting there; dropped here when its reply could not be sent or the shutdown's
 * grace ran out before its delay did.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { UdpGreetingServer, UdpSocket } from "effect-net"
 *
 * // The tutorial's UDP server, on every interface.
 * const program = UdpGreetingServer.serve({ shutdownGrace: "2 seconds" }).pipe(
 *   Effect.provide(UdpSocket.layer({ host: "0.0.0.0", port: 9999 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const serve = (options: UdpGreetingServerOptions = {}): Effect.Effect<never, never, UdpSocket> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* UdpSocket
    const metrics = yield* currentRecorder
    const delay = Duration.decode(options.delay ?? defaults.delay)
    const maxWait = Duration.decode(options.maxWait ?? defaults.maxWait)
    const bound = Duration.isZero(maxWait) ? undefined : maxWait
    const tooLong = Greeting.datagramTooLong(socket.maxDatagramBytes - Greeting.replyOverhead)
    const replyTo = ({ address, data }: Datagram): Datagram => {
      const reply = Greeting.reply(rawMessage(data))
      return { data: reply.length <= socket.maxDatagramBytes ? reply : tooLong, address }
    }

    // What became of the datagrams taken from the socket (the socket counts the ones it dropped).
    let answered = 0
    let dropped = 0
    const drop = (count: number) => {
      dropped += count
      metrics?.add(Metrics.datagramsDropped, count)
    }
    /** Counts the replies that went out; a failed send is a drop and one warning line, and the server goes on. */
    const account = (sent: number) => (failures: ReadonlyArray<UdpSendError>): Effect.Effect<void> => {
      answered += sent - failures.length
      metrics?.add(Metrics.messagesSent, sent - failures.length)
      metrics?.add(Metrics.datagramsAnswered, sent - failures.length)
      if (failures.length === 0) return Effect.void
      drop(failures.length)
      return Effect.logWarning(failures[0]!.message + (failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""))
    }
    const answer = (datagrams: ReadonlyArray<Datagram>) =>
      Effect.flatMap(socket.sendAll(datagrams.map(replyTo)), account(datagrams.length))

    const reporter = yield* Effect.forkScoped(reportDrops(socket))
    yield* Effect.addFinalizer(() =>
      logRoutine(summary({ received: socket.received(), answered, dropped: socket.dropped() + dropped }))
    )

    // With a delay, a datagram leaves the socket's buffer only into a free slot: the ones waiting
    // for a slot stay in that buffer, so they are bounded by its size alone.
    const slots = yield* Effect.makeSemaphore(options.concurrency ?? defaults.concurrency)

    const delayed = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(delayed)()
    // Registered after the FiberSet, so it runs first: no new datagram is taken, the ones still
    // waiting are dropped, and the replies in flight go out, up to the grace.
    const grace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(reporter)
        const waiting = yield* socket.stopReceiving
        const inFlight = yield* FiberSet.size(delayed)
        const parts = [
          ...(waiting > 0 ? [`dropping ${waiting} datagram(s) not yet being answered`] : []),
          ...(inFlight > 0 ? [`letting ${inFlight} delayed reply(s) go out, for up to ${Duration.format(grace)}`] : [])
        ]
        if (parts.length > 0) yield* logRoutine(`shutting down: ${parts.join(", ")}`)
        if (inFlight === 0) return
        yield* Effect.raceAll([FiberSet.awaitEmpty(delayed), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const cut = yield* FiberSet.size(delayed)
        yield* logRoutine(`shutdown: ${inFlight - cut} delayed reply(s) sent, ${cut} dropped`)
      })
    )
    // Only the delay can be cut short: once it is over, the reply goes out.
    const answerLater = (datagram: Datagram) =>
      Effect.uninterruptibleMask((restore) =>
        restore(Effect.sleep(delay)).pipe(
          Effect.onInterrupt(() => Effect.sync(() => drop(1))),
          Effect.zipRight(answer([datagram])),
          Effect.ensuring(slots.release(1))
        )
      )

    const taken = (chunk: Chunk.Chunk<Datagram>) => {
      metrics?.add(Metrics.messagesReceived, chunk.length)
      return Chunk.toReadonlyArray(chunk)
    }
    // Each step takes datagrams and hands them over in one uninterruptible piece (only the waits
    // can be interrupted), so that a shutdown never loses one between the two. A chunk answered at
    // once is answered whole.
    const receive = socket.receiveUpTo(Infinity, bound)
    const step: Effect.Effect<void, Cause.NoSuchElementException> = Duration.isZero(delay)
      ? Effect.uninterruptible(Effect.flatMap(receive, (chunk) => answer(taken(chunk))))
      // A slot first, then one datagram into it.
      : Effect.zipRight(
        slots.take(1),
        Effect.uninterruptible(Effect.flatMap(socket.receiveUpTo(1, bound), (chunk) =>
          Effect.sync(() => {
            for (const datagram of taken(chunk)) run(answerLater(datagram))
          })))
      )
    // The hot path pulls from the socket itself: a Stream would add its machinery to every chunk.
    const loop: Effect.Effect<void, Cause.NoSuchElementException> = Effect.flatMap(step, () => loop)
    yield* Effect.catchTag(loop, "NoSuchElementException", () => Effect.void)
    return yield* Effect.never
  }))

/**
 * The greeting server in the background of a larger program: serving while the layer is alive.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { UdpGreetingServer, UdpSocket } from "effect-net"
 *
 * // Its socket also provided to the rest of the program (its address, its counts).
 * const GreetingLive = UdpGreetingServer.layer({ delay: "1 second" }).pipe(Layer.provideMerge(UdpSocket.layer({ port: 9999 })))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: UdpGreetingServerOptions = {}): Layer.Layer<never, never, UdpSocket> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(options)))
