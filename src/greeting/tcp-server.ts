/**
 * The tutorial's TCP greeting server on the transport: `Welcome!` on accept, then
 * `Hello, <message>!` per message after the configured delay, until `exit` or end of stream.
 */
import { Duration, Effect, Layer } from "effect"
import type { Message } from "../framing/decoder.js"
import type { LineTooLongError } from "../framing/errors.js"
import * as Lines from "../framing/lines.js"
import { type MessageResult, runMessages, type RunMessagesOptions } from "../framing/messages.js"
import { logAbout } from "../internal/log.js"
import { currentRecorder, recorderOf } from "../internal/metrics.js"
import * as Metrics from "../metrics/metrics.js"
import * as TcpConnection from "../tcp/connection.js"
import type { TcpListener } from "../tcp/listener.js"
import * as TcpServer from "../tcp/server.js"
import * as Greeting from "./protocol.js"

export interface TcpGreetingServerOptions extends TcpServer.TcpServerOptions {
  /** Pause before each reply; the tutorial sleeps 1 second. */
  readonly delay?: Duration.DurationInput | undefined
  readonly framing?: Greeting.FramingName | undefined
  /** Longest line accepted with `line` framing. */
  readonly maxLineBytes?: number | undefined
  /**
   * With `line` framing, a line must be complete within this long of its first byte, else the
   * peer is told and the connection closed (a peer trickling bytes would hold it forever); 0 for
   * no limit.
   */
  readonly lineTimeout?: Duration.DurationInput | undefined
}

export const defaults = {
  delay: Duration.seconds(1),
  framing: "raw" as Greeting.FramingName,
  maxLineBytes: Lines.defaults.maxLineBytes,
  lineTimeout: Duration.seconds(30)
} as const

/**
 * One conversation: the welcome, then each message answered in order (see
 * `TcpConnection.runMessages`), counted in `metrics` if given.
 */
export const handler = (options: TcpGreetingServerOptions = {}, metrics?: Metrics.Metrics) => {
  const recorder = metrics === undefined ? undefined : recorderOf(metrics)
  const delay = Duration.decode(options.delay ?? defaults.delay)
  const immediate = Duration.isZero(delay)
  const framing = options.framing ?? defaults.framing
  const maxLineBytes = options.maxLineBytes ?? defaults.maxLineBytes
  // The same functions and options for every connection: nothing per connection but the decoder.
  const conversation: RunMessagesOptions<LineTooLongError, TcpConnection.TcpError, never> = {
    lineTimeout: options.lineTimeout ?? defaults.lineTimeout,
    onFramingError: (error, connection) =>
      Effect.suspend(() => {
        recorder?.add(error._tag === "LineTooLongError" ? Metrics.linesTooLong : Metrics.linesTimedOut)
        const log = logAbout("routine", connection.remote, () => `${error.message}: closing`)
        return Effect.zipRight(log, connection.write(Greeting.framingError(error)))
      })
  }
  /** Called in the connection's fiber as each message comes: it may write at once (see `unsafeWrite`). */
  const onMessage = (
    message: Message,
    connection: TcpConnection.Connection
  ): MessageResult<TcpConnection.TcpError, never> => {
    if (Greeting.isExit(message)) return false
    if (recorder !== undefined) recorder.messagesReceived++
    if (immediate) {
      if (recorder !== undefined) recorder.messagesSent++
      return connection.unsafeWrite(Greeting.reply(message))
    }
    return Effect.zipRight(
      Effect.sleep(delay),
      Effect.suspend(() => {
        if (recorder !== undefined) recorder.messagesSent++
        return connection.write(Greeting.reply(message))
      })
    )
  }
  // The tutorial's lines, at the library's routine level: this one, and the closing one (see `serverOptions`).
  return (connection: TcpConnection.Connection): Effect.Effect<void, TcpConnection.TcpError> =>
    Effect.zipRight(
      logAbout("routine", connection.remote, (peer) => `Accept new connection from ${peer}...`, undefined, false),
      Effect.zipRight(
        connection.write(Greeting.welcome),
        runMessages(connection, Greeting.decoder(framing, maxLineBytes), onMessage, conversation)
      )
    )
}

/** The tutorial's closing line, once a connection is closed, after its failure's line if any. */
const logClosed = (connection: TcpConnection.Connection): Effect.Effect<void> =>
  logAbout("routine", connection.remote, (peer) => `Connection from ${peer} closed.`)

const serverOptions = (options: TcpGreetingServerOptions): TcpServer.TcpServerOptions => {
  const onClose = options.onClose
  return {
    ...options,
    busyMessage: Greeting.serverBusy,
    onClose: onClose === undefined ? logClosed : (connection) => Effect.zipRight(logClosed(connection), onClose(connection))
  }
}

/** Serves the greeting protocol on the `TcpListener` until interrupted. */
export const serve = (options: TcpGreetingServerOptions = {}): Effect.Effect<never, never, TcpListener> =>
  Effect.flatMap(currentRecorder, (metrics) => TcpServer.serve(handler(options, metrics), serverOptions(options)))

/** The greeting server in the background of a larger program. */
export const layer = (options: TcpGreetingServerOptions = {}): Layer.Layer<never, never, TcpListener> =>
  Layer.unwrapEffect(Effect.map(currentRecorder, (metrics) => TcpServer.layer(handler(options, metrics), serverOptions(options))))
