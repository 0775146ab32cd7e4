/**
 * Socket addresses and OS error codes, shared by the TCP, UDP and HTTP modules.
 */

/**
 * An endpoint as the OS reports it: an IP address and port, or a Unix domain socket's file
 * (`path`; then `host` is `unix:PATH` and `port` 0, see `unixAddress`). One shape for both, so
 * that logs, limits and errors treat every peer alike.
 *
 * @example
 * ```ts
 * import { formatAddress, type SocketAddress } from "effect-net"
 *
 * const peer: SocketAddress = { host: "::1", port: 9999 }
 * console.log(formatAddress(peer)) // [::1]:9999
 * ```
 *
 * @since 0.1.0
 */
export interface SocketAddress {
  readonly host: string
  readonly port: number
  /** A Unix domain socket's path. */
  readonly path?: string | undefined
}

/**
 * The address of a Unix domain socket. Both ends of a connection on one get it: a client's own
 * socket has no name, so a server sees each peer as the socket file they met on.
 *
 * @example
 * ```ts
 * import { unixAddress } from "effect-net"
 *
 * const address = unixAddress("/run/greeting.sock")
 * console.log(address.host, address.port) // unix:/run/greeting.sock 0
 * ```
 *
 * @since 0.1.0
 */
export const unixAddress = (path: string): SocketAddress => ({ host: `unix:${path}`, port: 0, path })

/**
 * An address as a user reads it in a log line or an error: `127.0.0.1:9999`, `[::1]:9999` for
 * IPv6 (the form URLs and `nc` users read), `unix:PATH` for a Unix socket.
 *
 * @example
 * ```ts
 * import { formatAddress, unixAddress } from "effect-net"
 *
 * console.log(formatAddress({ host: "127.0.0.1", port: 9999 })) // 127.0.0.1:9999
 * console.log(formatAddress({ host: "::1", port: 9999 })) // [::1]:9999
 * console.log(formatAddress(unixAddress("/run/greeting.sock"))) // unix:/run/greeting.sock
 * ```
 *
 * @since 0.1.0
 */
export const formatAddress = ({ host, path, port }: SocketAddress): string =>
  // Of the hosts a socket reports or a user names, only an IPv6 address has a colon.
  path !== undefined ? `unix:${path}` : host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/** The `code` of a Node system error (`ECONNREFUSED`, ...), if it has one. */
export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const descriptions: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission denied",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EPIPE: "the peer closed the connection",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed (temporary DNS failure)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EMFILE: "too many open files",
  EINVAL: "invalid argument",
  EAFNOSUPPORT: "address family not supported (no IPv6 on this machine?)",
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is not a directory",
  ENAMETOOLONG: "the path is too long",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOSPC: "no space left on device",
  ELOOP: "too many levels of symbolic links"
}

/**
 * Why binding an address failed (TCP or UDP): the cases a program can act on, such as another
 * port when the address is in use; the OS error itself stays in the error's `cause`.
 *
 * @example
 * ```ts
 * import type { BindReason } from "effect-net"
 *
 * const hint = (reason: BindReason): string =>
 *   reason === "AddressInUse" ? "another process has the port: pick another" : "check the address"
 * console.log(hint("AddressInUse")) // another process has the port: pick another
 * ```
 *
 * @since 0.1.0
 */
export type BindReason = "AddressInUse" | "PermissionDenied" | "AddressNotAvailable" | "Other"

/** The reason of a failed bind, from the OS error. */
export const bindReason = (cause: unknown): BindReason => {
  switch (errorCode(cause)) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
      return "PermissionDenied"
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "AddressNotAvailable"
    default:
      return "Other"
  }
}

/** A short human description of a system error: `connection refused (ECONNREFUSED)`. */
export const describeError = (cause: unknown): string => {
  const code = errorCode(cause)
  if (code !== undefined) return `${descriptions[code] ?? "system error"} (${code})`
  return cause instanceof Error ? cause.message : String(cause)
}
