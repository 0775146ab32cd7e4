import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as UdpSocket from "../../src/udp/socket.js"
import { familyOf, interfaceFor, isMulticast } from "../../src/udp/multicast.js"
import * as UdpPeer from "../helpers/udp-peer.js"
import { udpAddress } from "../../src/address.js"

// Every join and every multicast send here names the loopback interface: none may go out of
// another one (a join on the default interface would announce itself on the network).
const text = (data: Uint8Array) => Buffer.from(data).toString("latin1")
const take = (socket: UdpSocket.UdpSocket, n: number) =>
  socket.datagrams.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("multicast addresses and interfaces", () => {
  it("tells multicast groups from other addresses", () => {
    for (const group of ["224.0.0.1", "239.1.2.3", "239.255.255.255", "ff02::1", "FF05::1:3", "ff0e::1%lo"]) {
      expect(isMulticast(group)).toBe(true)
    }
    for (const address of ["223.255.255.255", "240.0.0.1", "127.0.0.1", "::1", "ff::1", "fe80::1", "239.1.2", "lo", ""]) {
      expect(isMulticast(address)).toBe(false)
    }
    expect([familyOf("239.1.2.3"), familyOf("ff02::1%lo"), familyOf("nonsense")]).toEqual(["IPv4", "IPv6", undefined])
  })

  it("names the loopback interface as Node wants it, and refuses interfaces this machine has not", () => {
    expect(interfaceFor("IPv4", "127.0.0.1")).toBe("127.0.0.1")
    expect(interfaceFor("IPv4", "lo")).toBe("127.0.0.1")
    expect(interfaceFor("IPv6", "lo")).toBe("::%lo")
    expect(interfaceFor("IPv6", "::%lo")).toBe("::%lo")
    expect(interfaceFor("IPv6", "%lo")).toBe("::%lo")
    expect(interfaceFor("IPv6", "::1")).toBe("::%lo")
    // 198.51.100.7 is a documentation address: no machine has it.
    for (const iface of ["198.51.100.7", "nosuch0", "::1"]) expect(interfaceFor("IPv4", iface)).toBeUndefined()
    for (const iface of ["nosuch0", "::%nosuch0", "2001:db8::7"]) expect(interfaceFor("IPv6", iface)).toBeUndefined()
  })
})

describe("UdpSocket multicast", () => {
  it.scopedLive.skipIf(UdpPeer.noIpv4MulticastOnLoopback !== undefined)(
    `receives a group's datagrams on the interface it joined, with another member on the same port, answers the sender; leaves and joins again${
      UdpPeer.noIpv4MulticastOnLoopback === undefined ? "" : ` (skipped: ${UdpPeer.noIpv4MulticastOnLoopback})`
    }`,
    () =>
      Effect.gen(function*() {
        const group = "239.255.77.1"
        const member = { host: group, reuseAddress: true, multicastGroups: [group], multicastInterface: "lo" }
        const socket = yield* UdpSocket.make({ ...member, port: 0 })
        expect(socket.address).toEqual(udpAddress(group, socket.address.port))
        // A second member of the group on the same port, joined on the interface by its address.
        const other = yield* UdpSocket.make({
          ...member,
          port: socket.address.port,
          multicastGroups: [{ group, interface: "127.0.0.1" }]
        })
        const peer = UdpPeer.throughLoopback(yield* UdpPeer.open())
        peer.socket.send("Ada", socket.address.port, group)
        const [datagram] = yield* take(socket, 1)
        expect(text(datagram!.data)).toBe("Ada")
        expect(datagram!.address).toEqual(udpAddress("127.0.0.1", peer.port))
        expect(text((yield* take(other, 1))[0]!.data)).toBe("Ada")
        yield* socket.send(Buffer.from("Hello, Ada!"), datagram!.address)
        expect(yield* peer.waitFor(1)).toEqual(["Hello, Ada!"])

        // Linux gives a socket bound to the group every group the host is a member of
        // (IP_MULTICAST_ALL), so leaving shows once no member is left: what is sent then is lost.
        yield* socket.leaveGroup(group)
        yield* other.leaveGroup("239.255.77.1", "127.0.0.1")
        const sendToGroup = (message: string) =>
          Effect.async<void>((resume) => peer.socket.send(message, socket.address.port, group, () => resume(Effect.void)))
        yield* sendToGroup("Grace")
        yield* socket.joinGroup(group)
        yield* sendToGroup("Hopper")
        expect(text((yield* take(socket, 1))[0]!.data)).toBe("Hopper")
        expect(socket.received()).toBe(2)
      })
  )

  it.scopedLive.skipIf(UdpPeer.noIpv4MulticastOnLoopback !== undefined)(
    `sends to a group through its multicastInterface, with its TTL and loopback settings${
      UdpPeer.noIpv4MulticastOnLoopback === undefined ? "" : ` (skipped: ${UdpPeer.noIpv4MulticastOnLoopback})`
    }`,
    () =>
      Effect.gen(function*() {
        const group = "239.255.77.2"
        const member = yield* UdpSocket.make({ host: group, port: 0, multicastGroups: [group], multicastInterface: "lo" })
        const sender = yield* UdpSocket.make({ multicastInterface: "127.0.0.1", multicastTtl: 0 })
        yield* sender.send(Buffer.from("one"), udpAddress(group, member.address.port))
        expect(text((yield* take(member, 1))[0]!.data)).toBe("one")

        // Through lo, the datagram is looped back by the interface itself, so that
        // multicastLoopback: false (IP_MULTICAST_LOOP) cannot be seen here; it is set all the same.
        const quiet = yield* UdpSocket.make({ multicastInterface: "lo", multicastTtl: 255, multicastLoopback: false })
        yield* quiet.send(Buffer.from("two"), udpAddress(group, member.address.port))
        expect(text((yield* take(member, 1))[0]!.data)).toBe("two")
      })
  )

  it.scopedLive("refuses a bad group or interface with its reason before the OS; joining on lo reaches the system call", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      for (const group of ["10.1.2.3", "nonsense", "ff05::1"]) {
        const error = yield* Effect.flip(socket.joinGroup(group, "lo"))
        expect(error.reason).toBe("InvalidGroup")
      }
      expect((yield* Effect.flip(socket.joinGroup("10.1.2.3", "lo"))).message).toBe(
        "cannot join multicast group 10.1.2.3 on lo: not a multicast group of the socket's family (224.0.0.0/4 for IPv4, ff00::/8 for IPv6)"
      )
      for (const iface of ["nosuch0", "198.51.100.7", "::1"]) {
        const error = yield* Effect.flip(socket.joinGroup("239.255.77.3", iface))
        expect(error.reason).toBe("NoSuchInterface")
      }
      expect((yield* Effect.flip(socket.joinGroup("239.255.77.3", "nosuch0"))).message).toBe(
        "cannot join multicast group 239.255.77.3 on nosuch0: no such interface on this machine (for the socket's family)"
      )

      // The system call itself: Linux lets a socket join on lo; a system that does not says so with a tagged error.
      const joined = yield* Effect.either(socket.joinGroup("239.255.77.3", "127.0.0.1"))
      if (joined._tag === "Left") return expect(joined.left._tag).toBe("UdpMulticastError")
      const again = yield* Effect.flip(socket.joinGroup("239.255.77.3", "lo"))
      expect([again._tag, again.reason]).toEqual(["UdpMulticastError", "AlreadyJoined"])
      expect(again.message).toBe("cannot join multicast group 239.255.77.3 on lo: already joined (EADDRINUSE)")
      yield* socket.leaveGroup("239.255.77.3", "lo")
      const notJoined = yield* Effect.flip(socket.leaveGroup("239.255.77.3", "lo"))
      expect(notJoined.reason).toBe("NotJoined")
      expect(notJoined.message).toBe("cannot leave multicast group 239.255.77.3 on lo: not joined (EADDRNOTAVAIL)")
    }))

  it.scopedLive("fails to bind with a tagged error for a bad group, interface or TTL in its options", () =>
    Effect.gen(function*() {
      const badGroup = yield* Effect.flip(UdpSocket.make({ port: 0, multicastGroups: ["127.0.0.1"], multicastInterface: "lo" }))
      expect([badGroup._tag, badGroup.reason]).toEqual(["UdpMulticastError", "InvalidGroup"])
      const badInterface = yield* Effect.flip(UdpSocket.make({ port: 0, multicastInterface: "nosuch0" }))
      expect(badInterface.message).toBe(
        "cannot send multicast through nosuch0: no such interface on this machine (for the socket's family)"
      )
      const badTtl = yield* Effect.flip(UdpSocket.make({ port: 0, multicastTtl: 256 }))
      expect(badTtl.message).toBe("cannot set the multicast TTL to 256: the TTL must be a whole number from 0 to 255")
      // A socket that failed to set up is closed: its port is free again.
      const port = (yield* Effect.scoped(UdpSocket.make({ port: 0 }))).address.port
      const failed = yield* Effect.flip(Effect.scoped(UdpSocket.make({ port, multicastTtl: -1 })))
      expect(failed.reason).toBe("InvalidTtl")
      yield* UdpSocket.make({ port })
    }))

  it.scopedLive.skipIf(!UdpPeer.hasIpv6)("IPv6: joins and leaves a group on lo by name, and refuses an unknown interface instead of taking the default one", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ host: "::1", port: 0 })
      yield* socket.joinGroup("ff05::77:3", "lo")
      yield* socket.leaveGroup("ff05::77:3", "::%lo")
      // Node would hand the OS interface 0 for an unknown name, which is "any": refused here first.
      const unknown = yield* Effect.flip(socket.joinGroup("ff05::77:3", "::%nosuch0"))
      expect(unknown.reason).toBe("NoSuchInterface")
      expect((yield* Effect.flip(socket.joinGroup("239.1.2.3", "lo"))).reason).toBe("InvalidGroup")
    }))

  it.scopedLive.skipIf(UdpPeer.noIpv6MulticastOnLoopback !== undefined)(
    `IPv6: receives a group's datagrams on lo${
      UdpPeer.noIpv6MulticastOnLoopback === undefined ? "" : ` (skipped: ${UdpPeer.noIpv6MulticastOnLoopback})`
    }`,
    () =>
      Effect.gen(function*() {
        const group = "ff05::77:4"
        const socket = yield* UdpSocket.make({ host: "::", port: 0, multicastGroups: [group], multicastInterface: "lo" })
        const peer = UdpPeer.throughLoopback(yield* UdpPeer.open("::1"), "IPv6")
        peer.socket.send("Ada", socket.address.port, group)
        const [datagram] = yield* take(socket, 1)
        expect(text(datagram!.data)).toBe("Ada")
      })
  )
})

describe("UdpSocket broadcast", () => {
  it.scopedLive("sends to the loopback network's broadcast address with broadcast: true; without it, a NotPermitted send error", () =>
    Effect.gen(function*() {
      // 127.255.255.255 is lo's broadcast address: the datagram stays on this machine.
      const listener = yield* UdpPeer.open("127.255.255.255")
      const to = udpAddress("127.255.255.255", listener.port)
      const plain = yield* UdpSocket.make({ port: 0 })
      const refused = yield* Effect.flip(plain.send(Buffer.from("x"), to))
      expect([refused._tag, refused.reason]).toEqual(["UdpSendError", "NotPermitted"])
      expect(refused.message).toBe(`cannot send a datagram of 1 bytes to 127.255.255.255:${listener.port}: permission denied (EACCES)`)
      const broadcaster = yield* UdpSocket.make({ port: 0, broadcast: true })
      yield* broadcaster.send(Buffer.from("to all"), to)
      expect(yield* listener.waitFor(1)).toEqual(["to all"])
    }))
})
