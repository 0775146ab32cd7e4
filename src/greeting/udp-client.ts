/**
 * The tutorial's UDP greeting client: sends each name to the server and waits for its reply,
 * sending it again when the reply does not come in time (UDP may lose either datagram).
 *
 * Names are in flight together, so replies may arrive in any order: each is matched to its name
 * by its text (`Hello, Ada!` answers `Ada`). The replies are emitted in the order of the names.
 */
import { Cause, Data, Deferred, Duration, Effect, Option, Schedule, Stream } from "effect"
import { formatAddress, type UdpAddress } from "../address.js"
import { utf8 } from "../bytes.js"
import { rawMessage } from "../framing/raw.js"
import type { UdpSendError } from "../udp/errors.js"
import { UdpSocket } from "../udp/socket.js"
import * as Greeting from "./protocol.js"

export interface UdpGreetingClientOptions {
  /** Where the greeting server is. */
  readonly server: UdpAddress
  /** Default: the tutorial's Michael, Tracy and Sarah. */
  readonly names?: ReadonlyArray<string> | undefined
  /** How long to wait for a reply before sending the name again; default 1 second. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How many times a name is sent again when no reply comes; default 3. */
  readonly retries?: number | undefined
}

/** Some names got no reply, even after every retransmission. */
export class UdpNoReplyError extends Data.TaggedError("UdpNoReplyError")<{
  readonly server: UdpAddress
  /** The names that went unanswered, in the order they were given. */
  readonly names: ReadonlyArray<string>
  readonly attempts: number
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `no reply from ${formatAddress(this.server)} for ${this.names.join(", ")} (each sent ${this.attempts} ` +
      `time(s), ${Duration.format(this.timeout)} apart)`
  }
}

export const defaults = {
  names: Greeting.defaultNames,
  timeout: Duration.seconds(1),
  retries: 3
} as const

/** Names awaiting their replies at once: enough to pipeline, few enough not to overrun the server's buffers. */
const inFlight = 64

const decoder = new TextDecoder()

/**
 * Greets each name, through the `UdpSocket`, with the server: emits the replies (without their
 * terminator) in the order of the names, then fails with `UdpNoReplyError` naming every name
 * that got no reply after all its retries.
 */
export const converse = (
  options: UdpGreetingClientOptions
): Stream.Stream<string, UdpNoReplyError | UdpSendError, UdpSocket> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const socket = yield* UdpSocket
    const { server } = options
    const timeout = Duration.decode(options.timeout ?? defaults.timeout)
    const retries = options.retries ?? defaults.retries

    // The names waiting for a reply, by the reply's exact text (the same name may be given twice).
    const awaiting = new Map<string, Array<Deferred.Deferred<string>>>()
    yield* Effect.forkScoped(Stream.runForEach(socket.datagrams, ({ data }) =>
      Effect.sync(() => {
        const waiter = awaiting.get(decoder.decode(data))?.shift()
        if (waiter !== undefined) Deferred.unsafeDone(waiter, Effect.succeed(decoder.decode(rawMessage(data).body)))
      })))

    const greet = (name: string): Effect.Effect<Option.Option<string>, UdpSendError> =>
      Effect.gen(function*() {
        const message = utf8(name)
        const expected = decoder.decode(Greeting.reply(rawMessage(message)))
        const reply = yield* Deferred.make<string>()
        const waiters = awaiting.get(expected) ?? []
        awaiting.set(expected, waiters)
        waiters.push(reply)
        return yield* socket.send(message, server).pipe(
          Effect.zipRight(Effect.timeout(Deferred.await(reply), timeout)),
          // An explicit schedule: `times: 0` would mean no limit (Effect 3.22 tests it for truthiness).
          Effect.retry({ schedule: Schedule.recurs(retries), while: Cause.isTimeoutException }),
          Effect.asSome,
          Effect.catchTag("TimeoutException", () => Effect.succeedNone),
          Effect.ensuring(Effect.sync(() => {
            const index = waiters.indexOf(reply)
            if (index !== -1) waiters.splice(index, 1)
          }))
        )
      })

    const unanswered: Array<string> = []
    const noReply = Stream.suspend(() =>
      unanswered.length === 0
        ? Stream.empty
        : Stream.fail(new UdpNoReplyError({ server, names: unanswered, attempts: retries + 1, timeout }))
    )
    return Stream.fromIterable(options.names ?? defaults.names).pipe(
      Stream.mapEffect((name) => Effect.map(greet(name), (reply) => [name, reply] as const), { concurrency: inFlight }),
      // In the order of the names, as mapEffect keeps it.
      Stream.filterMap(([name, reply]) => {
        if (Option.isNone(reply)) unanswered.push(name)
        return reply
      }),
      Stream.concat(noReply)
    )
  }))
