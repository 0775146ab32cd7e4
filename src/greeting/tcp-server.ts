/**
 * The tutorial's TCP greeting server on the transport: `Welcome!` on accept, then
 * `Hello, <message>!` per message after the configured delay, until `exit` or end of stream.
 * A `TcpServer` handler (`handler`) with the tutorial's log lines, at the routine level.
 *
 * @since 0.1.0
 * @module
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

/**
 * The server's options (`TcpServer.TcpServerOptions`) and the conversation's: the delay before
 * each reply, the framing and its limits.
 *
 * @example
 * ```ts
 * import { TcpGreetingServer } from "effect-net"
 *
 * // Line-framed, answered at once, a line of at most 1 KiB that must arrive within 10 seconds.
 * const options: TcpGreetingServer.TcpGreetingServerOptions = {
 *   delay: 0,
 *   framing: "line",
 *   maxLineBytes: 1024,
 *   lineTimeout: "10 seconds",
 *   maxConnections: 500
 * }
 * ```
 *
 * @since 0.1.0
 */
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

/**
 * The defaults of `TcpGreetingServerOptions`: the tutorial's.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TcpGreetingServer } from "effect-net"
 *
 * const { delay, framing, maxLineBytes } = TcpGreetingServer.defaults
 * console.log(Duration.format(delay), framing, maxLineBytes) // 1s raw 8192
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  delay: Duration.seconds(1),
  framing: "raw" as Greeting.FramingName,
  maxLineBytes: Lines.defaults.maxLineBytes,
  lineTimeout: Duration.seconds(30)
} as const

/**
 * One conversation: the welcome, then each message answered in order (see
 * `TcpConnection.runMessages`), counted in `metrics` if given. A `TcpServer` handler, for a
 * server of one's own making; `serve` and `layer` add the busy message and the closing log line,
 * and count in the `Metrics` provided, if any.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { TcpGreetingServer, TcpListener, TcpServer } from "effect-net"
 *
 * // The greeting conversation on a server with limits of its own.
 * const server = TcpServer.layer(TcpGreetingServer.handler({ framing: "line" }), { maxConnections: 100, shutdownGrace: "1 second" }).pipe(
 *   Layer.provide(TcpListener.layer({ port: 9999 }))
 * )
 * ```
 *
 * @since 0.1.0
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

/**
 * Serves the greeting protocol on the `TcpListener` until interrupted; interrupted, it shuts down
 * gracefully (see `TcpServer.serve`).
 *
 * @example
 * ```ts
 * import { Effect, LogLevel } from "effect"
 * import { Logging, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * // The tutorial's server: port 9999, a second's pause before each reply, its lines at Info.
 * const program = TcpGreetingServer.serve().pipe(
 *   Logging.withRoutineLevel(LogLevel.Info),
 *   Effect.provide(TcpListener.layer({ port: 9999 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const serve = (options: TcpGreetingServerOptions = {}): Effect.Effect<never, never, TcpListener> =>
  Effect.flatMap(currentRecorder, (metrics) => TcpServer.serve(handler(options, metrics), serverOptions(options)))

/**
 * The greeting server in the background of a larger program: serving while the layer is alive.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { TcpClient, TcpGreetingClient, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * // The server on a free port, and the tutorial's client talking to it, in one program.
 * const program = Effect.gen(function*() {
 *   const { address } = yield* TcpListener.TcpListener
 *   const port = address._tag === "TcpAddress" ? address.port : 0
 *   return yield* TcpGreetingClient.converse({ names: ["Ada"] }).pipe(Stream.runCollect, Effect.provide(TcpClient.layer({ port })))
 * })
 * const server = TcpGreetingServer.layer({ delay: 0 }).pipe(Layer.provideMerge(TcpListener.layer({ port: 0 })))
 * console.log([...await Effect.runPromise(Effect.provide(program, server))]) // [ 'Welcome!', 'Hello, Ada!' ]
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: TcpGreetingServerOptions = {}): Layer.Layer<never, never, TcpListener> =>
  Layer.unwrapEffect(Effect.map(currentRecorder, (metrics) => TcpServer.layer(handler(options, metrics), serverOptions(options))))
