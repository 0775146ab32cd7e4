/**
 * TLS helpers of the TCP transport: a listener's `node:tls` options, the TCP socket under a TLS
 * one, a connection's session, and how a TLS failure reads.
 */
import { Duration } from "effect"
import * as Net from "node:net"
import type * as Tls from "node:tls"
import { type TcpListenerTlsOptions, defaults, type TlsSession } from "../tcp/tls.js"
import { describeError, errorCode } from "./os-error.js"

/** Node's timers take at most 2^31 - 1 ms (about 24.8 days): as good as never. */
const never = 2 ** 31 - 1

/**
 * The `node:tls` server options for `options`. Throws as `Tls.createServer` does when the
 * certificate or key is unusable.
 */
export const serverOptions = (options: TcpListenerTlsOptions): Tls.TlsOptions => {
  const millis = Duration.toMillis(Duration.decode(options.handshakeTimeout ?? defaults.handshakeTimeout))
  return {
    // Node takes ArrayBufferViews for these, whatever its types say.
    cert: options.cert as Tls.TlsOptions["cert"],
    key: options.key as Tls.TlsOptions["key"],
    ...(options.ca !== undefined && { ca: options.ca as Tls.TlsOptions["ca"] }),
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    handshakeTimeout: millis > 0 && millis < never ? Math.max(1, Math.round(millis)) : never
  }
}

/**
 * Why a handshake failed, in a few words. Node reports a peer that hung up as `socket hang up`;
 * it is a client that gave up, or did not trust our certificate (Node's own client says nothing).
 */
export const describeHandshakeFailure = (cause: Error): string =>
  errorCode(cause) === "ECONNRESET" && !("syscall" in cause)
    ? "the client closed the connection before it was done"
    : describeTlsError(cause)

/**
 * The TCP socket under a TLS one that a server accepted (Node keeps it as `_parent`), or the
 * socket itself.
 */
export const tcpSocketOf = (socket: Net.Socket): Net.Socket => {
  const parent: unknown = (socket as { _parent?: unknown })._parent
  return parent instanceof Net.Socket ? parent : socket
}

/** Whether `socket` is a `node:tls` socket. */
export const isTls = (socket: Net.Socket): socket is Tls.TLSSocket => (socket as Tls.TLSSocket).encrypted === true

/**
 * What `socket` tells of its TLS session, asked when called.
 */
export const session = (socket: Tls.TLSSocket): TlsSession => {
  const certificate = socket.getPeerCertificate()
  const error = socket.authorizationError as Error | string | null | undefined
  return {
    protocol: socket.getProtocol() ?? undefined,
    cipher: socket.getCipher()?.standardName,
    authorized: socket.authorized,
    authorizationError: error === null || error === undefined ? undefined : typeof error === "string" ? error : error.message,
    // Node gives an empty object when the peer sent none.
    peerCertificate: certificate !== null && Object.keys(certificate).length > 0 ? certificate : undefined
  }
}

/** A TLS failure: system errors (a reset) as usual, OpenSSL's and Node's certificate errors by their reason and code. */
export const describeTlsError = (cause: unknown): string => {
  if (!(cause instanceof Error) || "syscall" in cause) return describeError(cause)
  // OpenSSL's errors carry a short `reason` ("wrong version number") beside a long message.
  const reason = "reason" in cause && typeof cause.reason === "string" ? cause.reason : cause.message
  const code = errorCode(cause)
  return code === undefined ? reason : `${reason} (${code})`
}
