/**
 * The tutorial's TCP greeting server on the transport: `Welcome!` on accept, then
 * `Hello, <message>!` per message after the configured delay, until `exit` or end of stream.
 */
import { Duration, Effect, type Layer } from "effect"
import * as Framing from "../framing.js"
import * as Metrics from "../metrics/metrics.js"
import * as TcpConnection from "../tcp/connection.js"
import type { TcpListener } from "../tcp/listener.js"
import * as TcpServer from "../tcp/server.js"
import * as Greeting from "./protocol.js"

export interface TcpGreetingServerOptions extends TcpServer.TcpServerOptions {
  /** Pause before each reply; the tutorial sleeps 1 second. */
  readonly delay?: Duration.DurationInput | undefined
  readonly framing?: Framing.Framing | undefined
  /** Longest line accepted with `line` framing. */
  readonly maxLineBytes?: number | undefined
}

export const defaults = {
  delay: Duration.seconds(1),
  framing: "raw" as Framing.Framing,
  maxLineBytes: Framing.defaultMaxLineBytes
} as const

/** One conversation: the welcome, then each message answered in order (see `TcpConnection.runMessages`). */
export const handler = (options: TcpGreetingServerOptions = {}) => {
  const delay = Duration.decode(options.delay ?? defaults.delay)
  const framing = options.framing ?? defaults.framing
  const maxLineBytes = options.maxLineBytes ?? defaults.maxLineBytes
  const tooLongLine = Greeting.lineTooLong(maxLineBytes)
  const tooLong = (connection: TcpConnection.Connection) =>
    Effect.suspend(() => {
      Metrics.linesTooLong.unsafeUpdate(1, Metrics.noTags)
      return Effect.zipRight(Effect.logInfo(`line too long (max ${maxLineBytes} bytes): closing`), connection.write(tooLongLine))
    })
  return (connection: TcpConnection.Connection): Effect.Effect<void, TcpConnection.TcpError> => {
    const answer = (message: Framing.Message) => {
      Metrics.messagesSent.unsafeUpdate(1, Metrics.noTags)
      return connection.write(Greeting.reply(message))
    }
    const onMessage = (message: Framing.Message): TcpConnection.MessageResult<TcpConnection.TcpError, never> => {
      if (Greeting.isExit(message)) return false
      Metrics.messagesReceived.unsafeUpdate(1, Metrics.noTags)
      return Duration.isZero(delay) ? answer(message) : Effect.zipRight(Effect.sleep(delay), Effect.suspend(() => answer(message)))
    }
    return Effect.zipRight(
      connection.write(Greeting.welcome),
      TcpConnection.runMessages(connection, Framing.decoder(framing, maxLineBytes), onMessage)
    ).pipe(Effect.catchTag("LineTooLongError", () => tooLong(connection)))
  }
}

const serverOptions = (options: TcpGreetingServerOptions): TcpServer.TcpServerOptions => ({
  ...options,
  busyMessage: Greeting.serverBusy
})

/** Serves the greeting protocol on the `TcpListener` until interrupted. */
export const serve = (options: TcpGreetingServerOptions = {}): Effect.Effect<never, never, TcpListener> =>
  TcpServer.serve(handler(options), serverOptions(options))

/** The greeting server in the background of a larger program. */
export const layer = (options: TcpGreetingServerOptions = {}): Layer.Layer<never, never, TcpListener> =>
  TcpServer.layer(handler(options), serverOptions(options))
