/**
 * The tutorial's UDP greeting server over `UdpSocket`: each datagram is answered with the
 * datagram `Hello, <data>!` to its sender. No connection, no welcome, no exit.
 *
 * A trailing `\n` or `\r\n` is echoed after the `!` (as the TCP server's raw framing does), so
 * `echo Michael | nc -u` gets a line back and the tutorial's client gets `Hello, Michael!`.
 * An empty datagram gets `Hello, !`, as the tutorial's server answers it. A datagram whose reply
 * would not fit in one datagram gets `Error: datagram too long (max N bytes)\n` instead.
 */
import { type Cause, Chunk, Duration, Effect, Fiber, FiberSet, Layer, type MetricPair, Schedule } from "effect"
import * as Metrics from "../metrics/metrics.js"
import { rawMessage } from "../framing/raw.js"
import type { UdpSendError } from "../udp/errors.js"
import { type Datagram, UdpSocket } from "../udp/socket.js"
import * as Greeting from "./protocol.js"

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

export const defaults = {
  delay: Duration.zero,
  concurrency: 1024,
  maxWait: Duration.seconds(3),
  shutdownGrace: Duration.seconds(5)
} as const

/** What became of the datagrams a server received: each answered or dropped. */
export interface Outcome {
  readonly received: number
  readonly answered: number
  readonly dropped: number
}

/** A server's last line. */
export const summary = ({ answered, dropped, received }: Outcome): string =>
  `stopped: ${received} datagram(s) received, ${answered} answered, ${dropped} dropped`

/** The outcome the metrics count: a process's, or a cluster's summed over its workers. */
export const outcomeOf = (metrics: ReadonlyArray<MetricPair.MetricPair.Untyped>): Outcome => ({
  received: Metrics.counterValue(metrics, Metrics.datagramCounterNames.received),
  answered: Metrics.counterValue(metrics, Metrics.datagramCounterNames.answered),
  dropped: Metrics.counterValue(metrics, Metrics.datagramCounterNames.dropped)
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
 */
export const serve = (options: UdpGreetingServerOptions = {}): Effect.Effect<never, never, UdpSocket> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* UdpSocket
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
      Metrics.datagramsDropped.unsafeUpdate(count, Metrics.noTags)
    }
    /** Counts the replies that went out; a failed send is a drop and one warning line, and the server goes on. */
    const account = (sent: number) => (failures: ReadonlyArray<UdpSendError>): Effect.Effect<void> => {
      answered += sent - failures.length
      Metrics.messagesSent.unsafeUpdate(sent - failures.length, Metrics.noTags)
      Metrics.datagramsAnswered.unsafeUpdate(sent - failures.length, Metrics.noTags)
      if (failures.length === 0) return Effect.void
      drop(failures.length)
      return Effect.logWarning(failures[0]!.message + (failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""))
    }
    const answer = (datagrams: ReadonlyArray<Datagram>) =>
      Effect.flatMap(socket.sendAll(datagrams.map(replyTo)), account(datagrams.length))

    const reporter = yield* Effect.forkScoped(reportDrops(socket))
    yield* Effect.addFinalizer(() =>
      Effect.logInfo(summary({ received: socket.received(), answered, dropped: socket.dropped() + dropped }))
    )

    // With a delay, a datagram leaves the socket's buffer only into a free slot: the ones waiting
    // for a slot stay in that buffer, so they are bounded by its size alone.
    let free = options.concurrency ?? defaults.concurrency
    const slotFreed = Effect.unsafeMakeLatch(true)
    const aFreeSlot: Effect.Effect<void> = Effect.suspend(() => {
      if (free > 0) return Effect.void
      slotFreed.unsafeClose()
      return Effect.zipRight(slotFreed.await, aFreeSlot)
    })
    const release = Effect.sync(() => {
      free++
      slotFreed.unsafeOpen()
    })

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
        if (parts.length > 0) yield* Effect.logInfo(`shutting down: ${parts.join(", ")}`)
        if (inFlight === 0) return
        yield* Effect.raceAll([FiberSet.awaitEmpty(delayed), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const cut = yield* FiberSet.size(delayed)
        yield* Effect.logInfo(`shutdown: ${inFlight - cut} delayed reply(s) sent, ${cut} dropped`)
      })
    )
    // Only the delay can be cut short: once it is over, the reply goes out.
    const answerLater = (datagram: Datagram) =>
      Effect.uninterruptibleMask((restore) =>
        restore(Effect.sleep(delay)).pipe(
          Effect.onInterrupt(() => Effect.sync(() => drop(1))),
          Effect.zipRight(answer([datagram])),
          Effect.ensuring(release)
        )
      )

    const taken = (chunk: Chunk.Chunk<Datagram>) => {
      Metrics.messagesReceived.unsafeUpdate(chunk.length, Metrics.noTags)
      return Chunk.toReadonlyArray(chunk)
    }
    // Each step takes datagrams and hands them over in one uninterruptible piece (only the waits
    // can be interrupted), so that a shutdown never loses one between the two. A chunk answered at
    // once is answered whole.
    const receive = socket.receiveUpTo(Infinity, bound)
    const step: Effect.Effect<void, Cause.NoSuchElementException> = Duration.isZero(delay)
      ? Effect.uninterruptible(Effect.flatMap(receive, (chunk) => answer(taken(chunk))))
      : Effect.zipRight(
        aFreeSlot,
        Effect.uninterruptible(Effect.flatMap(Effect.suspend(() => socket.receiveUpTo(free, bound)), (chunk) =>
          Effect.sync(() => {
            for (const datagram of taken(chunk)) {
              free--
              run(answerLater(datagram))
            }
          })))
      )
    // The hot path pulls from the socket itself: a Stream would add its machinery to every chunk.
    const loop: Effect.Effect<void, Cause.NoSuchElementException> = Effect.flatMap(step, () => loop)
    yield* Effect.catchTag(loop, "NoSuchElementException", () => Effect.void)
    return yield* Effect.never
  }))

/** The greeting server in the background of a larger program. */
export const layer = (options: UdpGreetingServerOptions = {}): Layer.Layer<never, never, UdpSocket> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(options)))
