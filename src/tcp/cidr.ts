/**
 * Blocks of IP addresses in CIDR notation (`10.0.0.0/8`, `::1/128`, a bare address for one), and
 * whether an address, as Node reports it, is in one: for the peers trusted to send a PROXY
 * protocol header. Matching is Node's `BlockList`, which also matches IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`, what a dual-stack listener reports) against IPv4 blocks, and back.
 *
 * @since 0.1.0
 * @module
 */
import { Data, Either } from "effect"
import { BlockList, isIP } from "node:net"

/**
 * A block of IP addresses, parsed (see `parse`): what a list of trusted peers holds, so that a
 * test of membership needs no parsing.
 *
 * @example
 * ```ts
 * import { Cidr } from "effect-net"
 *
 * const block: Cidr.Cidr = { family: "ipv4", address: "10.0.0.0", prefix: 8 }
 * console.log(Cidr.format(block), Cidr.matcher([block])("10.1.2.3")) // 10.0.0.0/8 true
 * ```
 *
 * @since 0.1.0
 */
export interface Cidr {
  readonly family: "ipv4" | "ipv6"
  readonly address: string
  /** The number of leading bits that are the block's; the rest are free. */
  readonly prefix: number
}

/**
 * Text that is not an address or `ADDRESS/PREFIX` (`parse`, `parseList`): a mistyped list of
 * trusted proxies fails at start-up, its message naming the offending block.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Cidr } from "effect-net"
 *
 * const parsed = Cidr.parse("10.0.0.0/33")
 * if (Either.isLeft(parsed)) console.log(parsed.left.input) // 10.0.0.0/33
 * ```
 *
 * @since 0.1.0
 */
export class CidrError extends Data.TaggedError("CidrError")<{
  readonly input: string
}> {
  override get message(): string {
    return `invalid address block ${JSON.stringify(this.input)}; expected ADDRESS or ADDRESS/PREFIX, such as 10.0.0.0/8 or ::1/128`
  }
}

/**
 * The loopback addresses, 127.0.0.0/8 and ::1/128: the default trusted proxies, a balancer on
 * the same host.
 *
 * @example
 * ```ts
 * import { Cidr } from "effect-net"
 *
 * console.log(Cidr.loopback.map(Cidr.format).join(" ")) // 127.0.0.0/8 ::1/128
 * ```
 *
 * @since 0.1.0
 */
export const loopback: ReadonlyArray<Cidr> = [
  { family: "ipv4", address: "127.0.0.0", prefix: 8 },
  { family: "ipv6", address: "::1", prefix: 128 }
]

/**
 * A block as `parse` reads it, `ADDRESS/PREFIX`: for logs and messages.
 *
 * @example
 * ```ts
 * import { Cidr } from "effect-net"
 *
 * console.log(Cidr.format({ family: "ipv6", address: "fd00::", prefix: 8 })) // fd00::/8
 * ```
 *
 * @since 0.1.0
 */
export const format = (cidr: Cidr): string => `${cidr.address}/${cidr.prefix}`

/**
 * Parses one block, such as a flag's value; a bare address is a block of one (`/32` or
 * `/128`). Bits after the prefix are ignored.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Cidr } from "effect-net"
 *
 * console.log(Either.map(Cidr.parse("::1"), Cidr.format)) // { _id: 'Either', _tag: 'Right', right: '::1/128' }
 * console.log(Either.isLeft(Cidr.parse("10.0.0.0/33"))) // true
 * ```
 *
 * @since 0.1.0
 */
export const parse = (text: string): Either.Either<Cidr, CidrError> => {
  const [address = "", prefix, ...extra] = text.trim().split("/")
  const version = address.includes("%") ? 0 : isIP(address)
  const bits = version === 4 ? 32 : 128
  const length = prefix === undefined ? bits : /^(?:0|[1-9][0-9]{0,2})$/.test(prefix) ? Number(prefix) : NaN
  if (version === 0 || extra.length > 0 || !(length <= bits)) return Either.left(new CidrError({ input: text }))
  return Either.right({ family: version === 4 ? "ipv4" : "ipv6", address, prefix: length })
}

/**
 * Parses a comma-separated list of blocks, as a flag or an environment variable gives it: at
 * least one, spaces around commas allowed; the first invalid block fails the whole list.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Cidr } from "effect-net"
 *
 * const blocks = Either.getOrThrow(Cidr.parseList("10.0.0.0/8, 192.168.1.7"))
 * console.log(blocks.map(Cidr.format)) // [ '10.0.0.0/8', '192.168.1.7/32' ]
 * ```
 *
 * @since 0.1.0
 */
export const parseList = (text: string): Either.Either<ReadonlyArray<Cidr>, CidrError> =>
  Either.all(text.split(",").map(parse))

/**
 * A test of membership in any of `blocks`, for addresses as Node reports them (a socket's
 * `remoteAddress`); an IPv6 zone (`fe80::1%eth0`) is ignored, and what is not an IP address
 * (`unknown`) is outside. The blocks are indexed once, so that a listener tests each
 * connection cheaply.
 *
 * @example
 * ```ts
 * import { Cidr } from "effect-net"
 *
 * const trusted = Cidr.matcher(Cidr.loopback)
 * console.log(trusted("127.0.0.1"), trusted("::ffff:127.0.0.1"), trusted("192.0.2.1")) // true true false
 * ```
 *
 * @since 0.1.0
 */
export const matcher = (blocks: ReadonlyArray<Cidr>): (host: string) => boolean => {
  const list = new BlockList()
  for (const block of blocks) list.addSubnet(block.address, block.prefix, block.family)
  return (host) => {
    const address = host.replace(/%.*$/, "")
    const version = isIP(address)
    return version !== 0 && list.check(address, version === 4 ? "ipv4" : "ipv6")
  }
}
