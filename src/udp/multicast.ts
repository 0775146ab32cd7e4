/**
 * Multicast for a bound `node:dgram` socket: its settings, joining and leaving groups, with group
 * addresses and interfaces checked before they reach the OS. Node wants an IPv4 interface by one
 * of its addresses and an IPv6 one as `::%name`, and hands an unknown IPv6 name to the OS as
 * interface 0, which means "any": a typo would join the group on the default interface instead
 * of failing. So names are looked up here first.
 */
import { Effect } from "effect"
import type * as Dgram from "node:dgram"
import { isIPv4, isIPv6 } from "node:net"
import { networkInterfaces } from "node:os"
import { errorCode } from "../internal/os-error.js"
import { UdpMulticastError } from "./errors.js"

export type Family = "IPv4" | "IPv6"

/** The family of an IP address (an IPv6 one may carry a `%zone`), or undefined for anything else. */
export const familyOf = (address: string): Family | undefined =>
  isIPv4(address) ? "IPv4" : isIPv6(address) ? "IPv6" : undefined

/** Whether `address` is a multicast group: 224.0.0.0/4 for IPv4, ff00::/8 for IPv6. */
export const isMulticast = (address: string): boolean => {
  if (isIPv4(address)) {
    const first = Number(address.slice(0, address.indexOf(".")))
    return first >= 224 && first <= 239
  }
  return isIPv6(address) && /^ff[0-9a-f]{2}:/i.test(address)
}

/**
 * `iface` as Node wants it for a socket of `family`, or undefined when this machine has no such
 * interface. `iface` is an interface's name (`lo`, `eth0`) or one of its addresses (`127.0.0.1`,
 * `::1`); for IPv6, `%lo` and `::%lo` are names too.
 */
export const interfaceFor = (family: Family, iface: string): string | undefined => {
  const interfaces = Object.entries(networkInterfaces())
  if (family === "IPv4") {
    if (isIPv4(iface)) {
      return interfaces.some(([, addresses]) => addresses?.some(({ address }) => address === iface)) ? iface : undefined
    }
    return interfaces.find(([name]) => name === iface)?.[1]?.find((address) => address.family === "IPv4")?.address
  }
  const zone = iface.indexOf("%")
  const name = zone !== -1 && iface.slice(0, zone).replace(/:/g, "") === ""
    ? iface.slice(zone + 1)
    : isIPv6(iface)
    ? interfaces.find(([, addresses]) => addresses?.some(({ address }) => address === iface.split("%")[0]))?.[0]
    : iface
  return name !== undefined && interfaces.some(([known]) => known === name) ? `::%${name}` : undefined
}

export interface MulticastOptions {
  /** Multicast groups to join once bound, each on `multicastInterface` unless it names its own. */
  readonly multicastGroups?: ReadonlyArray<string | MulticastMembership> | undefined
  /**
   * The interface multicast goes out of, and the groups are joined on: a name (`lo`, `eth0`) or
   * one of its addresses (`127.0.0.1`). Default: the system's choice, by its routes.
   */
  readonly multicastInterface?: string | undefined
  /** How many routers multicast datagrams may cross (IP_MULTICAST_TTL, 0 to 255); default 1, this network. */
  readonly multicastTtl?: number | undefined
  /** Whether this host's own members of a group receive what this socket sends to it; default true. */
  readonly multicastLoopback?: boolean | undefined
}

/** A group to join, on an interface of its own. */
export interface MulticastMembership {
  readonly group: string
  readonly interface?: string | undefined
}

/** Why the OS refused a membership change. */
const membershipReason = (operation: "join" | "leave", cause: unknown) => {
  switch (errorCode(cause)) {
    case "EADDRINUSE":
      return operation === "join" ? "AlreadyJoined" : "Other"
    case "EADDRNOTAVAIL":
      return operation === "join" ? "NoSuchInterface" : "NotJoined"
    case "ENODEV":
      return "NoSuchInterface"
    default:
      return "Other"
  }
}

/** The multicast side of a bound socket: joining and leaving groups, and `setUp` for its options. */
export const multicast = (socket: Dgram.Socket, family: Family, options: MulticastOptions) => {
  const membership = (operation: "join" | "leave") => (group: string, iface = options.multicastInterface) =>
    Effect.suspend(() => {
      const fail = (reason: UdpMulticastError["reason"], cause?: unknown) =>
        Effect.fail(new UdpMulticastError({ operation, group, interface: iface, reason, cause }))
      if (!isMulticast(group) || familyOf(group) !== family) return fail("InvalidGroup")
      const via = iface === undefined ? undefined : interfaceFor(family, iface)
      if (iface !== undefined && via === undefined) return fail("NoSuchInterface")
      try {
        if (operation === "join") socket.addMembership(group, via)
        else socket.dropMembership(group, via)
        return Effect.void
      } catch (cause) {
        return fail(membershipReason(operation, cause), cause)
      }
    })
  const joinGroup = membership("join")
  const leaveGroup = membership("leave")

  const settings = Effect.suspend(() => {
    const { multicastInterface: iface, multicastLoopback: loopback, multicastTtl: ttl } = options
    if (ttl !== undefined) {
      if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
        return Effect.fail(new UdpMulticastError({ operation: "ttl", ttl, reason: "InvalidTtl" }))
      }
      socket.setMulticastTTL(ttl)
    }
    if (loopback !== undefined) socket.setMulticastLoopback(loopback)
    if (iface === undefined) return Effect.void
    const via = interfaceFor(family, iface)
    const fail = (reason: UdpMulticastError["reason"], cause?: unknown) =>
      Effect.fail(new UdpMulticastError({ operation: "interface", interface: iface, reason, cause }))
    if (via === undefined) return fail("NoSuchInterface")
    try {
      socket.setMulticastInterface(via)
      return Effect.void
    } catch (cause) {
      return fail(errorCode(cause) === "EADDRNOTAVAIL" ? "NoSuchInterface" : "Other", cause)
    }
  })
  const groups = Effect.forEach(options.multicastGroups ?? [], (membership) =>
    typeof membership === "string" ? joinGroup(membership) : joinGroup(membership.group, membership.interface), {
      discard: true
    })
  // The groups first: a bad interface is then reported as the join that needed it.
  return { joinGroup, leaveGroup, setUp: Effect.zipRight(groups, settings) }
}
