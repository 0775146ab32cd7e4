/**
 * The PROXY protocol (HAProxy's doc/proxy-protocol.txt), versions 1 and 2: the header an L4
 * balancer (HAProxy `send-proxy`/`send-proxy-v2`, nginx `proxy_protocol on`, Envoy, cloud
 * balancers) puts before a connection's first bytes to tell the server who the client is.
 * `Decoder` is pure and incremental (reads in, as they come, split anywhere); `readHeader` runs
 * it over a connection's pulled reads with a timeout. The bytes after the header are handed
 * back untouched: they are the conversation's first bytes.
 * Only trusted peers may send a header (see `Cidr`): anyone else could claim any address.
 * `TcpListener`'s `proxyProtocol` option reads the header of every connection it accepts.
 *
 * @since 0.1.0
 * @module
 */
import { Duration, Effect } from "effect"
import { isIPv4, isIPv6, SocketAddress as NodeSocketAddress } from "node:net"
import { type TcpAddress, tcpAddress } from "../address.js"
import { type Cidr, loopback } from "./cidr.js"
import { ProxyProtocolError } from "./errors.js"

/**
 * The defaults of `ReadHeaderOptions` and `ListenerOptions`: a header is small and comes first,
 * so a connection that does not send one soon is refused rather than waited for.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { ProxyProtocol } from "effect-net"
 *
 * console.log(Duration.format(ProxyProtocol.defaults.timeout), ProxyProtocol.defaults.maxHeaderBytes) // 5s 4096
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  /** The spec asks for at least 3 s, to cover a TCP retransmission. */
  timeout: Duration.seconds(5),
  /** The largest v2 header accepted, TLVs included (nginx's limit); v1 lines are at most 107 bytes. */
  maxHeaderBytes: 4096,
  /** The peers trusted to send a header: a balancer on the same host. */
  trusted: loopback
} as const

/**
 * What the header says about the connection: whom the balancer relayed it for, or that the
 * connection's own addresses stand (a health check, an unknown family).
 *
 * @example
 * ```ts
 * import { formatAddress, type ProxyProtocol } from "effect-net"
 *
 * const client = (header: ProxyProtocol.ProxyHeader): string => {
 *   switch (header._tag) {
 *     case "Proxied":
 *       return formatAddress(header.source)
 *     case "Unix":
 *       return header.source
 *     case "Local":
 *     case "Unknown":
 *       return "the connection's own peer"
 *   }
 * }
 * console.log(client({ _tag: "Local", version: 2 })) // the connection's own peer
 * ```
 *
 * @since 0.1.0
 */
export type ProxyHeader =
  /** Relayed for a client: `source` is the client, `destination` the address it connected to. */
  | {
    readonly _tag: "Proxied"
    readonly version: 1 | 2
    /** `Datagram` (UDP) only in v2, from a sender that relays datagrams. */
    readonly transport: "Stream" | "Datagram"
    readonly source: TcpAddress
    readonly destination: TcpAddress
  }
  /** Relayed for a client on a Unix socket (v2 AF_UNIX): socket paths, `@name` for an abstract one. */
  | {
    readonly _tag: "Unix"
    readonly version: 2
    readonly transport: "Stream" | "Datagram"
    readonly source: string
    readonly destination: string
  }
  /** v2 LOCAL: the proxy's own connection (a health check); the connection's addresses stand. */
  | { readonly _tag: "Local"; readonly version: 2 }
  /** v1 UNKNOWN, or v2 with an unspecified family or protocol: the connection's addresses stand. */
  | { readonly _tag: "Unknown"; readonly version: 1 | 2 }

/**
 * A complete header and what followed it in the same read: those bytes are the conversation's
 * first, to be handed on, not dropped.
 *
 * @example
 * ```ts
 * import { ProxyProtocol, ProxyProtocolError } from "effect-net"
 *
 * const decoded = new ProxyProtocol.Decoder().push(new TextEncoder().encode("PROXY UNKNOWN\r\nhello"))
 * if (decoded !== undefined && !(decoded instanceof ProxyProtocolError)) {
 *   console.log(decoded.header._tag, new TextDecoder().decode(decoded.rest)) // Unknown hello
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface Decoded {
  readonly header: ProxyHeader
  /** The bytes after the header in the read that completed it (often empty): the conversation's first bytes. */
  readonly rest: Uint8Array
}

/**
 * The client's address for logs, metrics and limits: the header's source, or `undefined` to
 * keep the connection's own.
 *
 * @example
 * ```ts
 * import { ProxyProtocol } from "effect-net"
 *
 * const header: ProxyProtocol.ProxyHeader = {
 *   _tag: "Proxied",
 *   version: 1,
 *   transport: "Stream",
 *   source: { _tag: "TcpAddress", hostname: "192.0.2.1", port: 56324 },
 *   destination: { _tag: "TcpAddress", hostname: "198.51.100.2", port: 443 }
 * }
 * console.log(ProxyProtocol.clientAddress(header)) // { _tag: 'TcpAddress', hostname: '192.0.2.1', port: 56324 }
 * console.log(ProxyProtocol.clientAddress({ _tag: "Local", version: 2 })) // undefined
 * ```
 *
 * @since 0.1.0
 */
export const clientAddress = (header: ProxyHeader): TcpAddress | undefined =>
  header._tag === "Proxied" ? header.source : undefined

/**
 * The longest v1 line, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses and ports):
 * a reader that peeks at a connection's first bytes need not look further for a v1 header.
 *
 * @example
 * ```ts
 * import { ProxyProtocol } from "effect-net"
 *
 * console.log(ProxyProtocol.v1MaxBytes) // 107
 * ```
 *
 * @since 0.1.0
 */
export const v1MaxBytes = 107

const CR = 0x0d
const LF = 0x0a
const v1Prefix = Buffer.from("PROXY ", "latin1")
const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** Signature, version and command, family and protocol, length. */
const v2FixedBytes = 16
/** The address block's size for each v2 family: UNSPEC, INET, INET6, UNIX. */
const v2AddressBytes = [0, 12, 36, 216] as const

const malformed = (detail: string) => new ProxyProtocolError({ reason: "Malformed", detail })
const notProxyProtocol = () =>
  new ProxyProtocolError({ reason: "NotProxyProtocol", detail: "the connection does not start with PROXY or the v2 signature" })

/**
 * Decodes one connection's header from its reads. Feed `push` each read in order until it
 * returns something other than `undefined`; a decoder serves one connection, once. It holds at
 * most the header's bytes (107 for v1, `maxHeaderBytes` for v2) and fails as soon as the bytes
 * seen cannot start a valid header (garbage on its first byte, a v2 header over the cap or with
 * unassigned values on its 16th).
 *
 * @example
 * ```ts
 * import { ProxyProtocol, ProxyProtocolError } from "effect-net"
 *
 * const bytes = new TextEncoder().encode("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\nGET / HTTP/1.1\r\n")
 * const decoder = new ProxyProtocol.Decoder()
 * console.log(decoder.push(bytes.subarray(0, 10))) // undefined
 * const decoded = decoder.push(bytes.subarray(10))
 * if (decoded !== undefined && !(decoded instanceof ProxyProtocolError)) {
 *   console.log(ProxyProtocol.clientAddress(decoded.header)) // { _tag: 'TcpAddress', hostname: '2001:db8::1', port: 56324 }
 * }
 * const refused = new ProxyProtocol.Decoder().push(new TextEncoder().encode("GET / HTTP/1.1\r\n"))
 * console.log(refused instanceof ProxyProtocolError && refused.reason) // NotProxyProtocol
 * ```
 *
 * @since 0.1.0
 */
export class Decoder {
  /** The v1 line, or v2's fixed part, so far. */
  private readonly head = new Uint8Array(v1MaxBytes)
  private filled = 0
  /** v2's addresses and TLVs, once the fixed part announced their length. */
  private body: Uint8Array | undefined
  private bodyFilled = 0

  constructor(private readonly maxHeaderBytes: number = defaults.maxHeaderBytes) {}

  /** `undefined` while the header is incomplete; then the header and the bytes after it, or why it is invalid. */
  push(read: Uint8Array): Decoded | ProxyProtocolError | undefined {
    let i = 0
    while (i < read.length) {
      if (this.body !== undefined) {
        const n = Math.min(read.length - i, this.body.length - this.bodyFilled)
        this.body.set(read.subarray(i, i + n), this.bodyFilled)
        this.bodyFilled += n
        i += n
        if (this.bodyFilled === this.body.length) return this.done(this.v2(this.body), read, i)
        continue
      }
      // The v1 line and v2's fixed part go byte by byte: at most 107 bytes per connection.
      const byte = read[i++]!
      const at = this.filled
      this.head[this.filled++] = byte
      if (this.head[0] === v1Prefix[0]) {
        if (at < v1Prefix.length) {
          if (byte !== v1Prefix[at]) return notProxyProtocol()
        } else if (byte === LF) {
          if (this.head[at - 1] !== CR) return malformed("v1: a line feed without a carriage return before it")
          return this.done(v1(this.head.subarray(v1Prefix.length, at - 1)), read, i)
        } else if (this.head[at - 1] === CR) {
          return malformed("v1: a carriage return not followed by a line feed")
        } else if (this.filled === v1MaxBytes) {
          return new ProxyProtocolError({ reason: "TooLarge", detail: `v1: no CRLF in the first ${v1MaxBytes} bytes` })
        }
      } else if (at < v2Signature.length) {
        if (byte !== v2Signature[at]) return notProxyProtocol()
      } else if (this.filled === v2FixedBytes) {
        const invalid = this.v2Fixed()
        if (invalid !== undefined) return invalid
        this.body = new Uint8Array((this.head[14]! << 8) | this.head[15]!)
        if (this.body.length === 0) return this.done(this.v2(this.body), read, i)
      }
    }
    return undefined
  }

  private done(header: ProxyHeader | ProxyProtocolError, read: Uint8Array, end: number) {
    return header instanceof ProxyProtocolError ? header : { header, rest: read.subarray(end) }
  }

  /** Checks v2's fixed part, so that a bad header fails before its body is awaited. */
  private v2Fixed(): ProxyProtocolError | undefined {
    const version = this.head[12]! >> 4
    const command = this.head[12]! & 0x0f
    const family = this.head[13]! >> 4
    const protocol = this.head[13]! & 0x0f
    const length = (this.head[14]! << 8) | this.head[15]!
    if (version !== 2) return malformed(`v2: version ${version}`)
    if (command > 1) return malformed(`v2: unknown command ${command}`)
    if (v2FixedBytes + length > this.maxHeaderBytes) {
      return new ProxyProtocolError({
        reason: "TooLarge",
        detail: `v2: a ${v2FixedBytes + length}-byte header, over the limit of ${this.maxHeaderBytes}`
      })
    }
    // LOCAL: the family and any address are to be ignored, and the block skipped whole.
    if (command === 0) return undefined
    if (family > 3) return malformed(`v2: unknown address family ${family}`)
    if (protocol > 2) return malformed(`v2: unknown transport protocol ${protocol}`)
    const addressBytes = protocol === 0 ? 0 : v2AddressBytes[family as 0 | 1 | 2 | 3]
    if (length < addressBytes) return malformed(`v2: ${length} bytes of addresses, expected ${addressBytes}`)
    return undefined
  }

  /** The header, from v2's fixed part (valid) and its body. */
  private v2(body: Uint8Array): ProxyHeader | ProxyProtocolError {
    const family = this.head[13]! >> 4
    const protocol = this.head[13]! & 0x0f
    if ((this.head[12]! & 0x0f) === 0) return { _tag: "Local", version: 2 }
    // UNSPEC family or protocol: addresses, if any, are to be ignored.
    if (family === 0 || protocol === 0) return { _tag: "Unknown", version: 2 }
    const addressBytes = v2AddressBytes[family as 1 | 2 | 3]
    const tlvs = skipTlvs(body, addressBytes)
    if (tlvs !== undefined) return tlvs
    const transport = protocol === 1 ? "Stream" : "Datagram"
    if (family === 3) {
      return { _tag: "Unix", version: 2, transport, source: unixPath(body.subarray(0, 108)), destination: unixPath(body.subarray(108, 216)) }
    }
    const size = family === 1 ? 4 : 16
    const host = family === 1 ? ipv4 : ipv6
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
    return {
      _tag: "Proxied",
      version: 2,
      transport,
      source: tcpAddress(host(body.subarray(0, size)), view.getUint16(2 * size)),
      destination: tcpAddress(host(body.subarray(size, 2 * size)), view.getUint16(2 * size + 2))
    }
  }
}

/**
 * Checks that the TLVs after the addresses (type, 2-byte length, value) exactly fill the rest
 * of the header; their contents are not interpreted. (A CRC32C TLV need only be checked by
 * receivers that support it.)
 */
const skipTlvs = (body: Uint8Array, from: number): ProxyProtocolError | undefined => {
  let at = from
  while (at < body.length) {
    if (body.length - at < 3) return malformed(`v2: ${body.length - at} stray bytes after the TLVs`)
    const length = (body[at + 1]! << 8) | body[at + 2]!
    if (at + 3 + length > body.length) return malformed(`v2: a TLV of type ${body[at]} runs past the header`)
    at += 3 + length
  }
  return undefined
}

const ipv4 = (bytes: Uint8Array) => bytes.join(".")

/** In Node's form: lowercase, zeros compressed, IPv4-mapped as `::ffff:1.2.3.4` (as `remoteAddress` says). */
const canonicalIpv6 = (text: string) => new NodeSocketAddress({ address: text, family: "ipv6" }).address

const ipv6 = (bytes: Uint8Array) => {
  const groups: Array<string> = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16))
  return canonicalIpv6(groups.join(":"))
}

/** A `sun_path`: up to its first NUL; an abstract socket's name (after a leading NUL) as `@name`. */
const unixPath = (bytes: Uint8Array) => {
  const abstract = bytes[0] === 0
  const start = abstract ? 1 : 0
  const end = bytes.indexOf(0, start)
  const path = Buffer.from(bytes.buffer, bytes.byteOffset + start, (end === -1 ? bytes.length : end) - start).toString("utf8")
  return abstract ? `@${path}` : path
}

/** A v1 port: decimal, 0 to 65535, no leading zero. */
const v1Port = (text: string) => /^(?:0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined

/** The fields of a v1 line after `PROXY `, without its CRLF. */
const v1 = (line: Uint8Array): ProxyHeader | ProxyProtocolError => {
  const fields = Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString("latin1").split(" ")
  const protocol = fields[0]!
  // UNKNOWN: whatever follows, up to the CRLF, is to be ignored.
  if (protocol === "UNKNOWN") return { _tag: "Unknown", version: 1 }
  if (protocol !== "TCP4" && protocol !== "TCP6") return malformed(`v1: unknown protocol ${JSON.stringify(protocol)}`)
  if (fields.length !== 5) return malformed(`v1: ${fields.length - 1} fields after ${protocol}, expected 4`)
  const [, sourceHost, destinationHost, sourcePort, destinationPort] = fields as [string, string, string, string, string]
  // isIPv4 refuses leading zeros, as the spec does; an IPv6 zone (`%eth0`) is not part of the format.
  const valid = protocol === "TCP4" ? isIPv4 : (host: string) => isIPv6(host) && !host.includes("%")
  for (const host of [sourceHost, destinationHost]) {
    if (!valid(host)) return malformed(`v1: ${JSON.stringify(host)} is not an ${protocol === "TCP4" ? "IPv4" : "IPv6"} address`)
  }
  const ports = [v1Port(sourcePort), v1Port(destinationPort)] as const
  if (ports[0] === undefined || ports[1] === undefined) {
    return malformed(`v1: invalid port in ${JSON.stringify(`${sourcePort} ${destinationPort}`)}`)
  }
  const host = protocol === "TCP4" ? (text: string) => text : canonicalIpv6
  return {
    _tag: "Proxied",
    version: 1,
    transport: "Stream",
    source: tcpAddress(host(sourceHost), ports[0]),
    destination: tcpAddress(host(destinationHost), ports[1])
  }
}

/**
 * Options of `readHeader`: how long a peer may take to send its header, and how large a header
 * may be, so that a peer cannot hold a connection open or make it hold bytes.
 *
 * @example
 * ```ts
 * import { ProxyProtocol } from "effect-net"
 *
 * const options: ProxyProtocol.ReadHeaderOptions = { timeout: "3 seconds", maxHeaderBytes: 1024 }
 * ```
 *
 * @since 0.1.0
 */
export interface ReadHeaderOptions {
  /** Fail with reason `Timeout` if the header is not complete this long after the first pull. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The largest v2 header accepted (see `defaults`). */
  readonly maxHeaderBytes?: number | undefined
}

/**
 * The PROXY protocol on a listener (`TcpListener`'s `proxyProtocol` option): which peers may
 * send a header, and `ReadHeaderOptions` for reading it.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Cidr, type ProxyProtocol } from "effect-net"
 *
 * // Balancers on the private network, and a second to send the header.
 * const options: ProxyProtocol.ListenerOptions = {
 *   trusted: Either.getOrThrow(Cidr.parseList("10.0.0.0/8")),
 *   timeout: "1 second"
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface ListenerOptions extends ReadHeaderOptions {
  /**
   * The peers trusted to send a header, the balancers (see `Cidr.parseList`); a connection from
   * any other peer is refused, as it could claim to be any client. Default: loopback.
   */
  readonly trusted?: ReadonlyArray<Cidr> | undefined
}

/**
 * Pulls `read` (a connection's `read`: `undefined` at end of stream) until the header is
 * complete, and not one read more: the bytes after the header come back as `rest`. On a timeout
 * the pending read is interrupted; the caller closes the connection on any failure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProxyProtocol } from "effect-net"
 *
 * // A connection's reads: the header, split, then the conversation.
 * const reads = ["PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r", "\nhello"].map((text) => new TextEncoder().encode(text))
 * const read = Effect.sync(() => reads.shift())
 * const { header, rest } = await Effect.runPromise(ProxyProtocol.readHeader(read, { timeout: "1 second" }))
 * console.log(ProxyProtocol.clientAddress(header)?.hostname, new TextDecoder().decode(rest)) // 192.0.2.1 hello
 * ```
 *
 * @since 0.1.0
 */
export const readHeader = <E, R>(
  read: Effect.Effect<Uint8Array | undefined, E, R>,
  options: ReadHeaderOptions = {}
): Effect.Effect<Decoded, ProxyProtocolError | E, R> =>
  Effect.suspend(() => {
    const decoder = new Decoder(options.maxHeaderBytes)
    const timeout = options.timeout ?? defaults.timeout
    let received = 0
    const next: Effect.Effect<Decoded, ProxyProtocolError | E, R> = Effect.flatMap(read, (chunk) => {
      if (chunk === undefined) {
        return Effect.fail(
          received === 0
            ? new ProxyProtocolError({ reason: "Closed", detail: "the peer sent nothing" })
            : new ProxyProtocolError({ reason: "Truncated", detail: `the peer stopped after ${received} bytes of a header` })
        )
      }
      received += chunk.length
      const result = decoder.push(chunk)
      return result === undefined ? next : result instanceof ProxyProtocolError ? Effect.fail(result) : Effect.succeed(result)
    })
    return Effect.timeoutFail(next, {
      duration: timeout,
      onTimeout: () =>
        new ProxyProtocolError({ reason: "Timeout", detail: `no complete header within ${Duration.format(timeout)}` })
    })
  })
