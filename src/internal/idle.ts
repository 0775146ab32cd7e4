/**
 * Idle timeouts, swept: one timer looks at a whole set of connections a few times per timeout,
 * instead of a timer per connection re-armed per read (memory and work per connection count). A
 * connection is idle when no bytes moved either way: its idle clock is the socket's own byte
 * counts, so the hot path does nothing for it.
 */
import type { Socket } from "node:net"
import { ofSocket } from "./socket-connection.js"

/** Milliseconds since this module loaded, never 0 (a connection's "not looked at yet"). */
const origin = Date.now() - 1

/** Looks at `sockets` (a listener's open connections, say) until the timer is cleared, or, with `whenEmpty`, until none are left. */
export const sweep = (sockets: ReadonlySet<Socket>, idleMillis: number, whenEmpty?: () => void): NodeJS.Timeout => {
  const timer = setInterval(() => {
    if (whenEmpty !== undefined && sockets.size === 0) {
      clearInterval(timer)
      return whenEmpty()
    }
    const now = Date.now() - origin
    for (const socket of sockets) ofSocket(socket)?.idleFor(now)
  }, Math.min(1000, Math.ceil(idleMillis / 4))).unref()
  return timer
}

/** The client connections with each idle timeout: a connection leaves its set when it closes. */
const clientSets = new Map<number, Set<Socket>>()

/** The set of client connections with this idle timeout, swept while it has any. */
export const clients = (idleMillis: number): Set<Socket> => {
  let sockets = clientSets.get(idleMillis)
  if (sockets === undefined) {
    sockets = new Set()
    clientSets.set(idleMillis, sockets)
    sweep(sockets, idleMillis, () => clientSets.delete(idleMillis))
  }
  return sockets
}
