/**
 * The tutorial's UDP greeting server over `UdpSocket`: each datagram is answered with the
 * datagram `Hello, <data>!` to its sender. No connection, no welcome, no exit.
 *
 * A trailing `\n` or `\r\n` is echoed after the `!` (as the TCP server's raw framing does), so
 * `echo Michael | nc -u` gets a line back and the tutorial's client gets `Hello, Michael!`.
 * An empty datagram gets `Hello, !`, as the tutorial's server answers it. A datagram whose reply
 * would not fit in one datagram gets `Error: datagram too long (max N bytes)\n` instead.
 */
import { type Cause, Chunk, Duration, Effect, FiberSet, Layer, Schedule } from "effect"
import { rawMessage } from "../protocol/framing.js"
import * as Greeting from "../protocol/greeting.js"
import type { UdpSendError } from "./errors.js"
import { type Datagram, UdpSocket } from "./socket.js"

export interface UdpGreetingServerOptions {
  /** Pause before each reply; default none (the tutorial's UDP server answers at once). */
  readonly delay?: Duration.DurationInput | undefined
  /**
   * With a delay, most datagrams waiting out their delay at once; default 1024. Beyond it, new
   * datagrams wait in the socket's buffer, and are dropped when that is full too.
   */
  readonly concurrency?: number | undefined
}

/** A failed send is one warning line; the server goes on answering the others. */
const logFailures = (failures: ReadonlyArray<UdpSendError>): Effect.Effect<void> =>
  failures.length === 0
    ? Effect.void
    : Effect.logWarning(failures[0]!.message + (failures.length > 1 ? ` (and ${failures.length - 1} more)` : ""))

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
 */
export const serve = (options: UdpGreetingServerOptions = {}): Effect.Effect<never, never, UdpSocket> =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* UdpSocket
    const delay = Duration.decode(options.delay ?? Duration.zero)
    const tooLong = Greeting.datagramTooLong(socket.maxDatagramBytes - Greeting.replyOverhead)
    const replyTo = ({ address, data }: Datagram): Datagram => {
      const reply = Greeting.reply(rawMessage(data))
      return { data: reply.length <= socket.maxDatagramBytes ? reply : tooLong, address }
    }
    const answer = (datagrams: ReadonlyArray<Datagram>) => Effect.flatMap(socket.sendAll(datagrams.map(replyTo)), logFailures)

    yield* Effect.forkScoped(reportDrops(socket))
    yield* Effect.addFinalizer(() =>
      Effect.logInfo(`stopped: ${socket.received()} datagram(s) received, ${socket.dropped()} dropped`)
    )

    const slots = yield* Effect.makeSemaphore(options.concurrency ?? 1024)
    const run = yield* FiberSet.makeRuntime()
    const answerLater = (datagram: Datagram) =>
      Effect.sleep(delay).pipe(Effect.zipRight(answer([datagram])), Effect.ensuring(slots.release(1)))
    const handle = Duration.isZero(delay) ? answer : Effect.forEach(
      // Waiting for a slot leaves the next datagrams in the socket's buffer: bounded, like the slots.
      (datagram: Datagram) => Effect.zipRight(slots.take(1), Effect.sync(() => run(answerLater(datagram)))),
      { discard: true }
    )

    // The hot path pulls from the socket itself: a Stream would add its machinery to every chunk.
    const loop: Effect.Effect<void, Cause.NoSuchElementException> = Effect.flatMap(
      socket.receive,
      (chunk) => Effect.zipRight(handle(Chunk.toReadonlyArray(chunk)), loop)
    )
    yield* Effect.catchTag(loop, "NoSuchElementException", () => Effect.void)
    return yield* Effect.never
  }))

/** The greeting server in the background of a larger program. */
export const layer = (options: UdpGreetingServerOptions = {}): Layer.Layer<never, never, UdpSocket> =>
  Layer.scopedDiscard(Effect.forkScoped(serve(options)))
