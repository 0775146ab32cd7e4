/**
 * The tutorial's TCP greeting server over the library's building blocks: welcome on accept,
 * then `Hello, <message>!` per message after the configured delay, until `exit` or end of stream.
 */
import { Duration, Effect, type Layer, Option } from "effect"
import * as Metrics from "../metrics/metrics.js"
import * as Framing from "../protocol/framing.js"
import * as Greeting from "../protocol/greeting.js"
import type { TcpConnection, TcpError } from "./connection.js"
import type { TcpListener } from "./listener.js"
import * as TcpServer from "./server.js"

export interface GreetingServerOptions extends TcpServer.TcpServerOptions {
  /** Pause before each reply; the tutorial sleeps 1 second. */
  readonly delay?: Duration.DurationInput | undefined
  readonly framing?: Framing.Framing | undefined
  /** Longest line accepted with `line` framing. */
  readonly maxLineBytes?: number | undefined
}

/**
 * One conversation: each read's messages are answered in order, and the next read is pulled
 * only once they are (backpressure: a client that sends faster than it is answered waits).
 *
 * The loop pulls `connection.read` and decodes with the framing's `Decoder`: the very pieces
 * that `connection.reads` and `Framing.frame` are Streams of. Consumed through those Streams
 * (`Stream.toPull`), a ping-pong message takes 31 Effect operations instead of this loop's 8
 * (bench/README.md): on this hot path the Stream machinery would be most of the cost.
 */
export const handler = (options: GreetingServerOptions = {}) => {
  const delay = Duration.decode(options.delay ?? Duration.seconds(1))
  const framing = options.framing ?? "raw"
  const maxLineBytes = options.maxLineBytes ?? Framing.defaultMaxLineBytes
  const tooLongLine = Greeting.lineTooLong(maxLineBytes)
  return (connection: TcpConnection): Effect.Effect<void, TcpError> => {
    const answer = (message: Greeting.Message) => {
      Metrics.messagesSent.unsafeUpdate(1, Metrics.noTags)
      return connection.write(Greeting.reply(message))
    }
    const answerLater = Duration.isZero(delay)
      ? answer
      : (message: Greeting.Message) => Effect.zipRight(Effect.sleep(delay), Effect.suspend(() => answer(message)))
    const tooLong = Effect.suspend(() => {
      Metrics.linesTooLong.unsafeUpdate(1, Metrics.noTags)
      return Effect.zipRight(Effect.logInfo(`line too long (max ${maxLineBytes} bytes): closing`), connection.write(tooLongLine))
    })
    const decoder = Framing.decoder(framing, maxLineBytes)

    /** Answers `messages` from `index` on, then goes on with `then`; `exit` ends the conversation. */
    const answerFrom = (
      messages: ReadonlyArray<Greeting.Message>,
      index: number,
      then: Effect.Effect<void, TcpError>
    ): Effect.Effect<void, TcpError> => {
      if (index === messages.length) return then
      const message = messages[index]!
      if (Greeting.isExit(message)) return Effect.void
      Metrics.messagesReceived.unsafeUpdate(1, Metrics.noTags)
      return Effect.flatMap(answerLater(message), () => answerFrom(messages, index + 1, then))
    }
    const converse: Effect.Effect<void, TcpError> = Effect.flatMap(connection.read, (read) => {
      if (Option.isNone(read)) {
        const last = decoder.flush()
        return last === undefined ? Effect.void : answerFrom([last], 0, Effect.void)
      }
      const messages: Array<Greeting.Message> = []
      const withinLimit = decoder.push(read.value, messages)
      return answerFrom(messages, 0, withinLimit ? converse : tooLong)
    })
    return Effect.zipRight(connection.write(Greeting.welcome), converse)
  }
}

/** Serves the greeting protocol on the `TcpListener` until interrupted. */
export const serve = (options: GreetingServerOptions = {}): Effect.Effect<never, never, TcpListener> =>
  TcpServer.serve(handler(options), { ...options, busyMessage: Greeting.serverBusy })

/** The greeting server in the background of a larger program. */
export const layer = (options: GreetingServerOptions = {}): Layer.Layer<never, never, TcpListener> =>
  TcpServer.layer(handler(options), { ...options, busyMessage: Greeting.serverBusy })
