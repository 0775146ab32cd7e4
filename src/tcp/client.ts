/**
 * A TCP client connection as a scoped resource: connected when acquired (within a timeout),
 * closed when the scope closes. With `tls`, the same connection runs over `node:tls`; with
 * `path`, over a Unix domain socket.
 */
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { type Address, tcpAddress, unixAddress } from "../address.js"
import { limits, make as fromConnected, onReadInto } from "../internal/socket-connection.js"
import type { Connection, TcpConnectionOptions } from "./connection.js"
import { TcpConnectError } from "./errors.js"
import type { Pem } from "./tls.js"
import { tooLong } from "../internal/unix-socket.js"

interface TcpClientCommonOptions extends TcpConnectionOptions {
  /** How long connecting may take (DNS lookup included); default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Speak TLS: the connection is acquired once the handshake is done (within `connectTimeout`). */
  readonly tls?: TcpClientTlsOptions | undefined
  /**
   * Plain TCP: read into one buffer of this size, reused from read to read, instead of a new
   * 64 KiB buffer per read (Node's default). A bulk download wants it: reads of up to this size,
   * no garbage per read, and `readLent` hands out views of the buffer (`read` copies). TLS
   * sockets keep Node's reads: they go on delivering into the buffer after `pause()`.
   */
  readonly readBufferBytes?: number | undefined
}

/** Where to connect: a host (default 127.0.0.1) and port, or the `path` of a Unix domain socket. */
export type TcpClientOptions =
  & TcpClientCommonOptions
  & (
    | { readonly host?: string | undefined; readonly port: number; readonly path?: undefined }
    | { readonly path: string; readonly host?: undefined; readonly port?: undefined }
  )

export interface TcpClientTlsOptions {
  /** The name sent for SNI and checked against the certificate; default `host` (SNI only for a name, not an IP). */
  readonly servername?: string | undefined
  /** Accept a certificate that does not verify (self-signed, expired, other name); default false. */
  readonly insecure?: boolean | undefined
  /** Trust only these CAs (PEM), instead of Node's root CAs: a private CA's, or a self-signed certificate itself. */
  readonly ca?: Pem | undefined
}

export const defaults = {
  host: "127.0.0.1",
  connectTimeout: Duration.seconds(10)
} as const

/** The client's connection, in a program that connects once (see `layer`). */
export class TcpClient extends Context.Tag("effect-net/TcpClient")<TcpClient, Connection>() {}

/** Starts connecting, in plain TCP or in TLS; `onReady` gets the socket once it is ready for data. */
const open = (
  server: Address,
  { readBufferBytes, tls }: TcpClientOptions,
  onReady: (socket: Net.Socket) => void,
  onFailure: (error: TcpConnectError) => void
): Net.Socket => {
  // allowHalfOpen: after our FIN we still read what the server sends.
  const options = {
    ...(server._tag === "UnixAddress" ? { path: server.path } : { host: server.hostname, port: server.port }),
    allowHalfOpen: true,
    noDelay: true
  }
  // Node sends no SNI unless told; an IP address must not be sent as one (RFC 6066).
  const servername = tls?.servername ?? (server._tag === "TcpAddress" && Net.isIP(server.hostname) === 0 ? server.hostname : undefined)
  const socket = tls === undefined
    ? Net.connect({
      ...options,
      ...(readBufferBytes !== undefined && { onread: { buffer: Buffer.allocUnsafe(readBufferBytes), callback: onReadInto } })
    })
    : Tls.connect({
      ...options,
      ...(servername !== undefined && { servername }),
      ...(tls.ca !== undefined && { ca: tls.ca as Tls.ConnectionOptions["ca"] }),
      rejectUnauthorized: tls.insecure !== true
    })
  let connected = false
  const onError = (cause: Error) => {
    if (!connected) return onFailure(TcpConnectError.fromCause(server, cause))
    // Connected, so the TLS handshake failed. Node records why it rejected a certificate.
    const reason = (socket as Tls.TLSSocket).authorizationError === null ? "Tls" : "Certificate"
    onFailure(new TcpConnectError({ address: server, reason, cause }))
  }
  socket.once("error", onError)
  socket.once("connect", () => (connected = true))
  socket.once(tls === undefined ? "connect" : "secureConnect", () => {
    socket.off("error", onError)
    onReady(socket)
  })
  return socket
}

/** Connects; the scope closes the connection. */
export const make = (options: TcpClientOptions): Effect.Effect<Connection, TcpConnectError, Scope.Scope> => {
  const { path } = options
  const server = path === undefined ? tcpAddress(options.host ?? defaults.host, options.port) : unixAddress(path)
  const long = path === undefined ? undefined : tooLong(path)
  if (long !== undefined) return Effect.fail(new TcpConnectError({ address: server, reason: "Other", cause: long }))
  const connectionLimits = limits(options, path)
  return Effect.acquireRelease(
    Effect.async<Connection, TcpConnectError>((resume) => {
      const socket = open(
        server,
        options,
        // Wrapped at once: the connection's own 'error' listener must be in place before any I/O event.
        (socket) => resume(Effect.succeed(fromConnected(socket, connectionLimits, undefined, options.tls === undefined && options.readBufferBytes !== undefined))),
        (error) => resume(Effect.fail(error))
      )
      return Effect.sync(() => socket.destroy())
    }).pipe(
      // acquireRelease acquires uninterruptibly; the connect itself must stay interruptible to time out.
      Effect.interruptible,
      Effect.timeoutFail({
        duration: options.connectTimeout ?? defaults.connectTimeout,
        onTimeout: () => new TcpConnectError({ address: server, reason: "Timeout" })
      })
    ),
    (connection) => connection.close
  )
}

/** `make`, under the name programs use. */
export const connect = make

/** The client's connection as a layer (see `TcpClient`). */
export const layer = (options: TcpClientOptions): Layer.Layer<TcpClient, TcpConnectError> => Layer.scoped(TcpClient, make(options))
