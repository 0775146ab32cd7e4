/**
 * Tagged errors of the UDP building blocks: a `reason` where there are several, the `address` it
 * concerns, the OS error as `cause`, and a short message (advice that names flags belongs to the
 * program, see src/cli).
 */
import { Data } from "effect"
import { type BindReason, formatAddress, type UdpAddress } from "../address.js"
import { bindReason, describeError, errorCode } from "../internal/os-error.js"

/** Binding a UDP socket failed (port in use, no permission, unknown host...). */
export class UdpBindError extends Data.TaggedError("UdpBindError")<{
  readonly reason: BindReason
  /** Where it tried to bind. */
  readonly address: UdpAddress
  readonly cause: unknown
}> {
  static fromCause(address: UdpAddress, cause: unknown): UdpBindError {
    return new UdpBindError({ address, reason: bindReason(cause), cause })
  }

  override get message(): string {
    return `cannot bind UDP to ${formatAddress(this.address)}: ${describeError(this.cause)}`
  }
}

/**
 * Why a send failed: `TooLarge` (over the largest datagram), `NotPermitted` (a broadcast address
 * without the socket's `broadcast` option, or a firewall rule), `Unreachable` (no route), `Other`.
 */
export type SendReason = "TooLarge" | "NotPermitted" | "Unreachable" | "Other"

const sendReason = (cause: unknown): SendReason => {
  switch (errorCode(cause)) {
    case "EMSGSIZE":
      return "TooLarge"
    case "EACCES":
    case "EPERM":
      return "NotPermitted"
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return "Unreachable"
    default:
      return "Other"
  }
}

/** A datagram could not be sent: bad address, over the size limit, socket closed... */
export class UdpSendError extends Data.TaggedError("UdpSendError")<{
  /** Where it was going. */
  readonly address: UdpAddress
  /** Its size in bytes. */
  readonly size: number
  readonly reason: SendReason
  readonly cause: unknown
}> {
  static fromCause(address: UdpAddress, size: number, cause: unknown): UdpSendError {
    return new UdpSendError({ address, size, reason: sendReason(cause), cause })
  }

  override get message(): string {
    const where = `cannot send a datagram of ${this.size} bytes to ${formatAddress(this.address)}`
    const code = errorCode(this.cause)
    if (code === "EMSGSIZE") return `${where}: it is larger than a UDP datagram can be (EMSGSIZE)`
    // Node's own errors (ERR_SOCKET_BAD_PORT...) explain themselves better than their code does.
    if (code?.startsWith("ERR_") && this.cause instanceof Error) return `${where}: ${this.cause.message}`
    return `${where}: ${describeError(this.cause)}`
  }
}

/**
 * Why a multicast setting failed: `InvalidGroup` (not a multicast address, or not of the socket's
 * family), `NoSuchInterface` (no interface of that name or address here, or none of the socket's
 * family), `AlreadyJoined`, `NotJoined` (leaving a group not joined), `InvalidTtl` (not 0 to 255).
 */
export type MulticastReason = "InvalidGroup" | "NoSuchInterface" | "AlreadyJoined" | "NotJoined" | "InvalidTtl" | "Other"

const multicastProblems: Record<MulticastReason, string | undefined> = {
  InvalidGroup: "not a multicast group of the socket's family (224.0.0.0/4 for IPv4, ff00::/8 for IPv6)",
  NoSuchInterface: "no such interface on this machine (for the socket's family)",
  AlreadyJoined: "already joined",
  NotJoined: "not joined",
  InvalidTtl: "the TTL must be a whole number from 0 to 255",
  Other: undefined
}

/** Joining or leaving a multicast group, or a multicast setting, failed. */
export class UdpMulticastError extends Data.TaggedError("UdpMulticastError")<{
  /** What was being done: `join` or `leave` a group, set the outgoing `interface`, or the `ttl`. */
  readonly operation: "join" | "leave" | "interface" | "ttl"
  /** The group, the interface or the TTL, as given. */
  readonly group?: string | undefined
  readonly interface?: string | undefined
  readonly ttl?: number | undefined
  readonly reason: MulticastReason
  /** The OS error, when it was the OS that refused. */
  readonly cause?: unknown
}> {
  override get message(): string {
    const on = this.interface === undefined ? "" : ` on ${this.interface}`
    const what = {
      join: `cannot join multicast group ${this.group}${on}`,
      leave: `cannot leave multicast group ${this.group}${on}`,
      interface: `cannot send multicast through ${this.interface}`,
      ttl: `cannot set the multicast TTL to ${this.ttl}`
    }[this.operation]
    const problem = multicastProblems[this.reason]
    const code = errorCode(this.cause)
    if (problem === undefined) return `${what}: ${describeError(this.cause)}`
    return code === undefined ? `${what}: ${problem}` : `${what}: ${problem} (${code})`
  }
}
