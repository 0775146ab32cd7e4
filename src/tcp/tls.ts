/**
 * TLS for the TCP building blocks: what a listener needs to speak it (certificate, key, the CA
 * that client certificates must chain to, a handshake timeout), and what a connection tells of
 * its session (the protocol, the peer's certificate).
 */
import { Duration } from "effect"
import * as Net from "node:net"
import type * as Tls from "node:tls"
import { errorCode } from "../address.js"
import { describeTlsError } from "./errors.js"

/** PEM text (a file's contents), one or several. */
export type Pem = string | Uint8Array | ReadonlyArray<string | Uint8Array>

export interface TcpListenerTlsOptions {
  /** The server's certificate chain (PEM): its certificate first, then the intermediates. */
  readonly cert: Pem
  /** The certificate's private key (PEM, unencrypted). */
  readonly key: Pem
  /** The CAs (PEM) that client certificates must chain to; default Node's root CAs. */
  readonly ca?: Pem | undefined
  /** Ask each client for a certificate (see `Connection.tls`); default false. */
  readonly requestCert?: boolean | undefined
  /**
   * With `requestCert`, end the handshake of a client whose certificate is missing or does not
   * verify against `ca`; default true. When false, such a client is served, and its
   * connection's `tls.authorized` says it is not verified.
   */
  readonly rejectUnauthorized?: boolean | undefined
  /**
   * A handshake not done this long after the connection was accepted fails (a client that
   * never speaks TLS holds no socket for longer); default 10 seconds; 0 for never.
   */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
}

export const defaults = {
  handshakeTimeout: Duration.seconds(10)
} as const

/** Node's timers take at most 2^31 - 1 ms (about 24.8 days): as good as never. */
const never = 2 ** 31 - 1

/**
 * The `node:tls` server options for `options`. Throws as `Tls.createServer` does when the
 * certificate or key is unusable.
 * @internal
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

/** A connection's TLS session (see `Connection.tls`). */
export interface TlsSession {
  /** The protocol agreed on: `TLSv1.3`, `TLSv1.2`. */
  readonly protocol: string | undefined
  /** The cipher suite agreed on: `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string | undefined
  /**
   * Whether the peer's certificate verified: a client's, when the listener asked for one
   * (`requestCert`); the server's, for a client connection.
   */
  readonly authorized: boolean
  /** Why it did not verify (`DEPTH_ZERO_SELF_SIGNED_CERT`, ...), if it did not. */
  readonly authorizationError: string | undefined
  /**
   * The peer's certificate, if it sent one: `subject` (`subject.CN`), `issuer`, `valid_to`,
   * `fingerprint256`, `subjectaltname` and the rest of what Node reports.
   */
  readonly peerCertificate: Tls.PeerCertificate | undefined
}

/**
 * Why a handshake failed, in a few words. Node reports a peer that hung up as `socket hang up`;
 * it is a client that gave up, or did not trust our certificate (Node's own client says nothing).
 * @internal
 */
export const describeHandshakeFailure = (cause: Error): string =>
  errorCode(cause) === "ECONNRESET" && !("syscall" in cause)
    ? "the client closed the connection before it was done"
    : describeTlsError(cause)

/**
 * The TCP socket under a TLS one that a server accepted (Node keeps it as `_parent`), or the
 * socket itself.
 * @internal
 */
export const tcpSocketOf = (socket: Net.Socket): Net.Socket => {
  const parent: unknown = (socket as { _parent?: unknown })._parent
  return parent instanceof Net.Socket ? parent : socket
}

/** Whether `socket` is a `node:tls` socket. */
export const isTls = (socket: Net.Socket): socket is Tls.TLSSocket => (socket as Tls.TLSSocket).encrypted === true

/**
 * What `socket` tells of its TLS session, asked when called.
 * @internal
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
