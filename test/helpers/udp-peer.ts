/**
 * A plain `node:dgram` peer for tests, like `nc -u`: independent of the library under test, it
 * records every datagram it receives and can wait for a number of them.
 */
import { Effect, type Scope } from "effect"
import * as Dgram from "node:dgram"
import { isIPv6 } from "node:net"
import { PeerError } from "./peer.js"

export interface UdpPeer {
  readonly socket: Dgram.Socket
  readonly port: number
  /** The datagrams received so far, as latin1 text (byte-exact), in order of arrival. */
  readonly received: () => ReadonlyArray<string>
  /** Sends without waiting; a failure is a defect (tests send only what can be sent). */
  readonly send: (data: string | Uint8Array, port: number) => void
  /** Waits until `count` datagrams have arrived; returns them all. */
  readonly waitFor: (count: number, timeout?: number) => Effect.Effect<ReadonlyArray<string>, PeerError>
}

/** A socket bound to a free port of `host` (the family of `host` is the socket's). */
export const open = (host = "127.0.0.1"): Effect.Effect<UdpPeer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Dgram.Socket>((resume) => {
      const socket = Dgram.createSocket(isIPv6(host) ? "udp6" : "udp4")
      socket.bind(0, host, () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.close())
  ).pipe(Effect.map((socket) => {
    const received: Array<string> = []
    const arrived = Effect.unsafeMakeLatch(false)
    socket.on("message", (data) => {
      received.push(data.toString("latin1"))
      arrived.unsafeOpen()
    })
    const enough = (count: number): Effect.Effect<ReadonlyArray<string>> =>
      Effect.suspend(() => {
        if (received.length >= count) return Effect.succeed(received)
        arrived.unsafeClose()
        return Effect.zipRight(arrived.await, enough(count))
      })
    return {
      socket,
      port: socket.address().port,
      received: () => received,
      send: (data, port) =>
        socket.send(data, port, host, (error) => {
          if (error) throw error
        }),
      waitFor: (count, timeout = 10_000) =>
        Effect.timeoutFail(enough(count), {
          duration: timeout,
          onTimeout: () =>
            new PeerError({ message: `expected ${count} datagrams, received ${received.length}: ${JSON.stringify(received.slice(0, 10))}` })
        })
    }
  }))

/** Whether this machine has IPv6 loopback (tests of `::1` are skipped where it has not). */
export const hasIpv6 = await new Promise<boolean>((resolve) => {
  const socket = Dgram.createSocket("udp6").once("error", () => resolve(false))
  socket.bind(0, "::1", () => socket.close(() => resolve(true)))
})
