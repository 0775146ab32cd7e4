/**
 * Addresses in tests: the port of a listener on TCP (its address is a union with Unix sockets).
 */
import type { Address } from "../../src/address.js"

/** The port of a TCP address; throws for a Unix socket's, which a test on TCP never has. */
export const portOf = (address: Address): number => {
  if (address._tag !== "TcpAddress") throw new Error(`not a TCP address: ${address.path}`)
  return address.port
}
