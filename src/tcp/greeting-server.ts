/**
 * The tutorial's TCP greeting server over the library's building blocks: welcome on accept,
 * then `Hello, <message>!` per message after the configured delay, until `exit` or end of stream.
 */
import { Chunk, Duration, Effect, type Layer, Option, Stream } from "effect"
import * as Metrics from "../metrics/metrics.js"
import { frame, type Framing, defaultMaxLineBytes, type LineTooLongError } from "../protocol/framing.js"
import * as Greeting from "../protocol/greeting.js"
import type { TcpConnection, TcpError } from "./connection.js"
import type { TcpListener } from "./listener.js"
import * as TcpServer from "./server.js"

export interface GreetingServerOptions extends TcpServer.TcpServerOptions {
  /** Pause before each reply; the tutorial sleeps 1 second. */
  readonly delay?: Duration.DurationInput | undefined
  readonly framing?: Framing | undefined
  /** Longest line accepted with `line` framing. */
  readonly maxLineBytes?: number | undefined
}

const sent = Effect.sync(() => Metrics.messagesSent.unsafeUpdate(1, Metrics.noTags))

/** One conversation: messages are answered in order, one at a time, pulled only when the last is answered. */
export const handler = (options: GreetingServerOptions = {}) => {
  const delay = Duration.decode(options.delay ?? Duration.seconds(1))
  const maxLineBytes = options.maxLineBytes ?? defaultMaxLineBytes
  const framing = frame(options.framing ?? "raw", maxLineBytes)
  const tooLong = Greeting.lineTooLong(maxLineBytes)
  return (connection: TcpConnection) => {
    const answer = (message: Greeting.Message) => Effect.zipRight(connection.write(Greeting.reply(message)), sent)
    const answerLater = Duration.isZero(delay)
      ? answer
      : (message: Greeting.Message) => Effect.zipRight(Effect.sleep(delay), answer(message))
    const onMessage = (message: Greeting.Message) => {
      Metrics.messagesReceived.unsafeUpdate(1, Metrics.noTags)
      return answerLater(message)
    }
    return Effect.scoped(Effect.gen(function*() {
      yield* connection.write(Greeting.welcome)
      const pull = yield* Stream.toPull(framing(connection.reads))
      // The same as Stream.runForEachWhile(not exit), a few µs cheaper per message: this is the hot path.
      const next: Effect.Effect<void, TcpError | LineTooLongError> = Effect.matchEffect(pull, {
        onFailure: Option.match({ onNone: () => Effect.void, onSome: Effect.fail }),
        onSuccess: (messages) => answerFrom(messages, 0)
      })
      const answerFrom = (messages: Chunk.Chunk<Greeting.Message>, index: number): Effect.Effect<void, TcpError | LineTooLongError> => {
        if (index === messages.length) return next
        const message = Chunk.unsafeGet(messages, index)
        if (Greeting.isExit(message)) return Effect.void
        return Effect.flatMap(onMessage(message), () => answerFrom(messages, index + 1))
      }
      yield* next
    })).pipe(
      Effect.catchTag("LineTooLongError", (error) => {
        Metrics.linesTooLong.unsafeUpdate(1, Metrics.noTags)
        return Effect.zipRight(Effect.logInfo(`${error.message}: closing`), connection.write(tooLong))
      })
    )
  }
}

/** Serves the greeting protocol on the `TcpListener` until interrupted. */
export const serve = (options: GreetingServerOptions = {}): Effect.Effect<never, never, TcpListener> =>
  TcpServer.serve(handler(options), { ...options, busyMessage: Greeting.serverBusy })

/** The greeting server in the background of a larger program. */
export const layer = (options: GreetingServerOptions = {}): Layer.Layer<never, never, TcpListener> =>
  TcpServer.layer(handler(options), { ...options, busyMessage: Greeting.serverBusy })
