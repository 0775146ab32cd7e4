/**
 * The tutorial's UDP greeting server over `UdpSocket`: each datagram is answered with the
 * datagram `Hello, <data>!` to its sender. No connection, no welcome, no exit.
 *
 * A trailing `\n` or `\r\n` is echoed after the `!` (as the TCP server's raw framing does), so
 * `echo Michael | nc -u` gets a line back and the tutorial's client gets `Hello, Michael!`.
 * An empty datagram gets `Hello, !`, as the tutorial's server answers it. A datagram whose reply
 * would not fit in one datagram gets `Error: datagram too long (max N bytes)\n` instead.
 */
import { type Cause, Chunk, Duration, Effect, FiberSet, flow, Layer, Schedule } from "effect"
import * as Metrics from "../metrics/metrics.js"
import { rawMessage } from "../framing.js"
import type { UdpSendError } from "../udp/errors.js"
import { type Datagram, type Socket, UdpSocket } from "../udp/socket.js"
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
   * datagrams wait in the socket's buffer, and are dropped when that is full too.
   */
  readonly concurrency?: number | undefined
}

export const defaults = {
  delay: Duration.zero,
  concurrency: 1024,
  shutdownGrace: Duration.seconds(5)
} as const

/** Counts the replies that went out; a failed send is one warning line, and the server goes on. */
const account = (sent: number) => (failures: ReadonlyArray<UdpSendError>): Effect.Effect<void> => {
  Metrics.messagesSent.unsafeUpdate(sent - failures.length, Metrics.noTags)
  Metrics.datagramsAnswered.unsafeUpdate(sent - failures.length, Metrics.noTags)
  return failures.length === 0
    ? Effect.void
    : Effect.logWarning(failures[0]!.message + (failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""))
}

/** Warns, once a second at most, of datagrams dropped because they came faster than they were answered. */
const reportDrops = (socket: Socket) => {
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
 */
export const serve = (options: UdpGreetingServerOptions = {}): Effect.Effect<never, never, UdpSocket> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* UdpSocket
    const delay = Duration.decode(options.delay ?? defaults.delay)
    const tooLong = Greeting.datagramTooLong(socket.maxDatagramBytes - Greeting.replyOverhead)
    const replyTo = ({ address, data }: Datagram): Datagram => {
      const reply = Greeting.reply(rawMessage(data))
      return { data: reply.length <= socket.maxDatagramBytes ? reply : tooLong, address }
    }
    const answer = (datagrams: ReadonlyArray<Datagram>) =>
      Effect.flatMap(socket.sendAll(datagrams.map(replyTo)), account(datagrams.length))

    yield* Effect.forkScoped(reportDrops(socket))
    yield* Effect.addFinalizer(() =>
      Effect.logInfo(`stopped: ${socket.received()} datagram(s) received, ${socket.dropped()} dropped`)
    )

    const slots = yield* Effect.makeSemaphore(options.concurrency ?? defaults.concurrency)
    const delayed = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(delayed)()
    // Registered after the FiberSet, so it runs first: the replies in flight go out, up to the grace.
    const grace = Duration.decode(options.shutdownGrace ?? defaults.shutdownGrace)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const inFlight = yield* FiberSet.size(delayed)
        if (inFlight === 0) return
        yield* Effect.logInfo(`shutting down: letting ${inFlight} delayed reply(s) go out, for up to ${Duration.format(grace)}`)
        yield* Effect.raceAll([FiberSet.awaitEmpty(delayed), Effect.sleep(grace), options.forceShutdown ?? Effect.never])
        const dropped = yield* FiberSet.size(delayed)
        yield* Effect.logInfo(`shutdown: ${inFlight - dropped} delayed reply(s) sent, ${dropped} dropped`)
      })
    )
    const answerLater = (datagram: Datagram) =>
      Effect.sleep(delay).pipe(Effect.zipRight(answer([datagram])), Effect.ensuring(slots.release(1)))
    // A chunk answered at once is answered whole, even when a shutdown comes meanwhile.
    const handle = Duration.isZero(delay) ? flow(answer, Effect.uninterruptible) : Effect.forEach(
      // Waiting for a slot leaves the next datagrams in the socket's buffer: bounded, like the slots.
      (datagram: Datagram) => Effect.zipRight(slots.take(1), Effect.sync(() => run(answerLater(datagram)))),
      { discard: true }
    )

    // The hot path pulls from the socket itself: a Stream would add its machinery to every chunk.
    const loop: Effect.Effect<void, Cause.NoSuchElementException> = Effect.flatMap(
      socket.receive,
      (chunk) => {
        Metrics.messagesReceived.unsafeUpdate(chunk.length, Metrics.noTags)
        return Effect.zipRight(handle(Chunk.toReadonlyArray(chunk)), loop)
      }
    )
    yield* Effect.catchTag(loop, "NoSuchElementException", () => Effect.void)
    return yield* Effect.never
  }))

/** The greeting server in the background of a larger program. */
export const layer = (options: UdpGreetingServerOptions = {}): Layer.Layer<never, never, UdpSocket> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(options)))
