/**
 * Blocks of IP addresses in CIDR notation (`10.0.0.0/8`, `::1/128`, a bare address for one), and
 * whether an address, as Node reports it, is in one: for the peers trusted to send a PROXY
 * protocol header. Matching is Node's `BlockList`, which also matches IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`, what a dual-stack listener reports) against IPv4 blocks, and back.
 */
import { Data, Either } from "effect"
import { BlockList, isIP } from "node:net"

export interface Cidr {
  readonly family: "ipv4" | "ipv6"
  readonly address: string
  /** The number of leading bits that are the block's; the rest are free. */
  readonly prefix: number
}

/** Not an address or `ADDRESS/PREFIX`. */
export class CidrError extends Data.TaggedError("CidrError")<{
  readonly input: string
}> {
  override get message(): string {
    return `invalid address block ${JSON.stringify(this.input)}; expected ADDRESS or ADDRESS/PREFIX, such as 10.0.0.0/8 or ::1/128`
  }
}

/** The loopback addresses, 127.0.0.0/8 and ::1/128: the default trusted proxies (a balancer on the same host). */
export const loopback: ReadonlyArray<Cidr> = [
  { family: "ipv4", address: "127.0.0.0", prefix: 8 },
  { family: "ipv6", address: "::1", prefix: 128 }
]

/** `10.0.0.0/8`. */
export const format = (cidr: Cidr): string => `${cidr.address}/${cidr.prefix}`

/** Parses one block; a bare address is a block of one (`/32` or `/128`). Bits after the prefix are ignored. */
export const parse = (text: string): Either.Either<Cidr, CidrError> => {
  const [address = "", prefix, ...extra] = text.trim().split("/")
  const version = address.includes("%") ? 0 : isIP(address)
  const bits = version === 4 ? 32 : 128
  const length = prefix === undefined ? bits : /^(?:0|[1-9][0-9]{0,2})$/.test(prefix) ? Number(prefix) : NaN
  if (version === 0 || extra.length > 0 || !(length <= bits)) return Either.left(new CidrError({ input: text }))
  return Either.right({ family: version === 4 ? "ipv4" : "ipv6", address, prefix: length })
}

/** Parses a comma-separated list of blocks (`--trusted-proxies`): at least one, spaces around commas allowed. */
export const parseList = (text: string): Either.Either<ReadonlyArray<Cidr>, CidrError> =>
  Either.all(text.split(",").map(parse))

/**
 * A test of membership in any of `blocks`, for addresses as Node reports them (a socket's
 * `remoteAddress`); an IPv6 zone (`fe80::1%eth0`) is ignored, and what is not an IP address
 * (`unknown`) is outside.
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
