/**
 * TLS for the TCP building blocks: what a listener needs to speak it (certificate, key, the CA
 * that client certificates must chain to, a handshake timeout), and what a connection tells of
 * its session (the protocol, the peer's certificate). The helpers are in `src/internal/tls.ts`.
 */
import { Duration } from "effect"
import type * as Tls from "node:tls"

/** PEM text (a file's contents), one or several. */
export type Pem = string | Uint8Array | ReadonlyArray<string | Uint8Array>

/**
 * What a listener needs to speak TLS (`TcpListenerOptions.tls`): its certificate and key, and,
 * to ask clients for certificates, the CA they must chain to.
 *
 * @example
 * ```ts
 * import { TcpListener } from "effect-net"
 *
 * // The PEM files' contents, read by the program; clients must show a certificate of `clientCa`.
 * const mutualTls = (cert: string, key: string, clientCa: string): TcpListener.TcpListenerTlsOptions => ({
 *   cert,
 *   key,
 *   ca: clientCa,
 *   requestCert: true,
 *   handshakeTimeout: "5 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 */
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

/**
 * A connection's TLS session (see `Connection.tls`).
 *
 * @example
 * ```ts
 * import type { TcpConnection } from "effect-net"
 *
 * const who = (connection: TcpConnection.Connection) =>
 *   connection.tls?.authorized ? connection.tls.peerCertificate?.subject.CN : undefined
 * ```
 *
 * @since 0.1.0
 */
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

