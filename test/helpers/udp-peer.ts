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

/** The loopback interface as Node names it for multicast: by its address for IPv4, `::%lo` for IPv6. */
export const loopbackInterface = { IPv4: "127.0.0.1", IPv6: "::%lo" } as const

/**
 * Sends multicast like a peer that has it set up: through the loopback interface only, and with a
 * TTL of 0 besides, so that nothing leaves the machine whatever its routes.
 */
export const throughLoopback = (peer: UdpPeer, family: "IPv4" | "IPv6" = "IPv4"): UdpPeer => {
  peer.socket.setMulticastInterface(loopbackInterface[family])
  peer.socket.setMulticastTTL(0)
  return peer
}

/**
 * Why multicast does not come back through the loopback interface on this machine, or undefined
 * when it does: one plain socket joins a group on lo, another sends it one datagram through lo
 * (TTL 0). Linux, for one, routes no IPv6 multicast through lo (the send fails, ENETUNREACH).
 */
const multicastProbe = (family: "IPv4" | "IPv6", group: string) =>
  new Promise<string | undefined>((resolve) => {
    const type = family === "IPv4" ? "udp4" : "udp6"
    const receiver = Dgram.createSocket(type)
    const sender = Dgram.createSocket(type)
    const done = (why: string | undefined) => {
      clearTimeout(timer)
      receiver.close()
      sender.close()
      resolve(why)
    }
    const timer = setTimeout(() => done(`a datagram sent to ${group} through lo did not come back`), 1000)
    const failed = (what: string) => (error: unknown) => {
      const code = (error as NodeJS.ErrnoException | undefined)?.code
      done(`${what} failed (${code ?? String(error)})`)
    }
    receiver.once("error", failed("binding"))
    sender.once("error", failed("sending"))
    receiver.on("message", () => done(undefined))
    receiver.bind(0, family === "IPv4" ? "0.0.0.0" : "::", () => {
      try {
        receiver.addMembership(group, loopbackInterface[family])
      } catch (error) {
        return failed(`joining ${group} on lo`)(error)
      }
      sender.bind(0, family === "IPv4" ? "127.0.0.1" : "::1", () => {
        try {
          sender.setMulticastInterface(loopbackInterface[family])
          sender.setMulticastTTL(0)
        } catch (error) {
          return failed("choosing lo to send multicast")(error)
        }
        sender.send("probe", receiver.address().port, group, (error) => {
          if (error) failed(`sending to ${group} through lo`)(error)
        })
      })
    })
  })

/** Why IPv4 multicast does not loop back through lo here (undefined: it does). */
export const noIpv4MulticastOnLoopback = await multicastProbe("IPv4", "239.255.77.99")
/** Why IPv6 multicast does not loop back through lo here (undefined: it does). */
export const noIpv6MulticastOnLoopback = hasIpv6 ? await multicastProbe("IPv6", "ff05::77:99") : "the machine has no IPv6"
