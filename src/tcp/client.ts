/**
 * A TCP client connection as a scoped resource: connected when acquired (within a timeout),
 * closed when the scope closes.
 */
import { Duration, Effect, Layer, type Scope } from "effect"
import * as Net from "node:net"
import { fromSocket, TcpConnection, type TcpConnectionOptions } from "./connection.js"
import { TcpConnectError } from "./errors.js"

export interface TcpClientOptions extends TcpConnectionOptions {
  readonly host?: string | undefined
  readonly port: number
  /** How long connecting may take (DNS lookup included); default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** Connects; the scope closes the connection. */
export const connect = (options: TcpClientOptions): Effect.Effect<TcpConnection, TcpConnectError, Scope.Scope> => {
  const host = options.host ?? "127.0.0.1"
  const { port } = options
  return Effect.acquireRelease(
    Effect.async<TcpConnection, TcpConnectError>((resume) => {
      // allowHalfOpen: after our FIN we still read what the server sends.
      const socket = Net.connect({ host, port, allowHalfOpen: true, noDelay: true })
      const onError = (cause: Error) => resume(Effect.fail(TcpConnectError.fromCause(host, port, cause)))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        // Wrapped at once: the connection's own 'error' listener must be in place before any I/O event.
        resume(Effect.succeed(fromSocket(socket, options)))
      })
      return Effect.sync(() => socket.destroy())
    }).pipe(
      // acquireRelease acquires uninterruptibly; the connect itself must stay interruptible to time out.
      Effect.interruptible,
      Effect.timeoutFail({
        duration: options.connectTimeout ?? Duration.seconds(10),
        onTimeout: () => new TcpConnectError({ host, port, reason: "Timeout" })
      })
    ),
    (connection) => connection.close
  )
}

/** A layer providing the `TcpConnection` of a client program. */
export const layer = (options: TcpClientOptions): Layer.Layer<TcpConnection, TcpConnectError> =>
  Layer.scoped(TcpConnection, connect(options))
