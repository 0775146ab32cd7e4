/**
 * Addresses: where a listener listens, a client connects, a connection's two ends are, a
 * datagram comes from. TCP endpoints and Unix domain sockets in @effect/platform's shape
 * (`SocketServer.Address`), so that the two libraries' addresses are one type; UDP endpoints
 * in the same form under a tag of their own.
 *
 * @since 0.1.0
 * @module
 */

/**
 * A TCP endpoint: a host (a name, or an IPv4 or IPv6 address) and a port.
 *
 * @example
 * ```ts
 * import { formatAddress, tcpAddress } from "effect-net"
 *
 * console.log(formatAddress(tcpAddress("::1", 9999))) // [::1]:9999
 * ```
 *
 * @since 0.1.0
 */
export interface TcpAddress {
  readonly _tag: "TcpAddress"
  readonly hostname: string
  readonly port: number
}

/**
 * A Unix domain socket: its file. Both ends of a connection on one have this address: a
 * client's own socket has no name, so a server sees each peer as the socket file they met on.
 *
 * @example
 * ```ts
 * import { formatAddress, unixAddress } from "effect-net"
 *
 * console.log(formatAddress(unixAddress("/run/greeting.sock"))) // unix:/run/greeting.sock
 * ```
 *
 * @since 0.1.0
 */
export interface UnixAddress {
  readonly _tag: "UnixAddress"
  readonly path: string
}

/**
 * Where a stream socket is: a TCP endpoint or a Unix domain socket (@effect/platform's
 * `SocketServer.Address`).
 *
 * @example
 * ```ts
 * import { type Address, formatAddress } from "effect-net"
 *
 * const where = (address: Address) => address._tag === "UnixAddress" ? `file ${address.path}` : `port ${address.port}`
 * console.log(where({ _tag: "TcpAddress", hostname: "127.0.0.1", port: 9999 })) // port 9999
 * ```
 *
 * @since 0.1.0
 */
export type Address = TcpAddress | UnixAddress

/**
 * A UDP endpoint: a host and a port, a datagram's sender or destination.
 *
 * @example
 * ```ts
 * import { formatAddress, udpAddress } from "effect-net"
 *
 * console.log(formatAddress(udpAddress("127.0.0.1", 9999))) // 127.0.0.1:9999
 * ```
 *
 * @since 0.1.0
 */
export interface UdpAddress {
  readonly _tag: "UdpAddress"
  readonly hostname: string
  readonly port: number
}

/**
 * A TCP endpoint.
 *
 * @example
 * ```ts
 * import { tcpAddress } from "effect-net"
 *
 * console.log(tcpAddress("localhost", 9999)) // { _tag: 'TcpAddress', hostname: 'localhost', port: 9999 }
 * ```
 *
 * @since 0.1.0
 */
export const tcpAddress = (hostname: string, port: number): TcpAddress => ({ _tag: "TcpAddress", hostname, port })

/**
 * A Unix domain socket's address.
 *
 * @example
 * ```ts
 * import { unixAddress } from "effect-net"
 *
 * console.log(unixAddress("/run/greeting.sock")) // { _tag: 'UnixAddress', path: '/run/greeting.sock' }
 * ```
 *
 * @since 0.1.0
 */
export const unixAddress = (path: string): UnixAddress => ({ _tag: "UnixAddress", path })

/**
 * A UDP endpoint.
 *
 * @example
 * ```ts
 * import { udpAddress } from "effect-net"
 *
 * console.log(udpAddress("127.0.0.1", 9999)) // { _tag: 'UdpAddress', hostname: '127.0.0.1', port: 9999 }
 * ```
 *
 * @since 0.1.0
 */
export const udpAddress = (hostname: string, port: number): UdpAddress => ({ _tag: "UdpAddress", hostname, port })

/**
 * An address as a user reads it in a log line or an error: `127.0.0.1:9999`, `[::1]:9999` for
 * IPv6 (the form URLs and `nc` users read), `unix:PATH` for a Unix socket.
 *
 * @example
 * ```ts
 * import { formatAddress, tcpAddress, unixAddress } from "effect-net"
 *
 * console.log(formatAddress(tcpAddress("127.0.0.1", 9999))) // 127.0.0.1:9999
 * console.log(formatAddress(tcpAddress("::1", 9999))) // [::1]:9999
 * console.log(formatAddress(unixAddress("/run/greeting.sock"))) // unix:/run/greeting.sock
 * ```
 *
 * @since 0.1.0
 */
export const formatAddress = (address: Address | UdpAddress): string => {
  if (address._tag === "UnixAddress") return `unix:${address.path}`
  const { hostname, port } = address
  // Of the hosts a socket reports or a user names, only an IPv6 address has a colon.
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`
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
