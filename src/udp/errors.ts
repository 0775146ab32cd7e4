/**
 * Tagged errors of the UDP building blocks: a `reason` where there are several, the OS error as
 * `cause`, and a short message (advice that names flags belongs to the program, see src/cli).
 */
import { Data } from "effect"
import { type BindReason, bindReason, describeError, errorCode, formatAddress, type SocketAddress } from "../address.js"

/** Binding a UDP socket failed (port in use, no permission, unknown host...). */
export class UdpBindError extends Data.TaggedError("UdpBindError")<{
  readonly host: string
  readonly port: number
  readonly reason: BindReason
  readonly cause: unknown
}> {
  static fromCause(host: string, port: number, cause: unknown): UdpBindError {
    return new UdpBindError({ host, port, reason: bindReason(cause), cause })
  }

  override get message(): string {
    return `cannot bind UDP to ${formatAddress(this)}: ${describeError(this.cause)}`
  }
}

/** A datagram could not be sent: bad address, over the size limit, socket closed... */
export class UdpSendError extends Data.TaggedError("UdpSendError")<{
  /** Where it was going. */
  readonly address: SocketAddress
  /** Its size in bytes. */
  readonly size: number
  readonly cause: unknown
}> {
  override get message(): string {
    const where = `cannot send a datagram of ${this.size} bytes to ${formatAddress(this.address)}`
    const code = errorCode(this.cause)
    if (code === "EMSGSIZE") return `${where}: it is larger than a UDP datagram can be (EMSGSIZE)`
    // Node's own errors (ERR_SOCKET_BAD_PORT...) explain themselves better than their code does.
    if (code?.startsWith("ERR_") && this.cause instanceof Error) return `${where}: ${this.cause.message}`
    return `${where}: ${describeError(this.cause)}`
  }
}
