import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as UdpSocket from "../../src/udp/socket.js"
import * as UdpPeer from "../helpers/udp-peer.js"

const text = (data: Uint8Array) => Buffer.from(data).toString("latin1")
const take = (socket: UdpSocket.Socket, n: number) =>
  socket.datagrams.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("UdpSocket", () => {
  it.scopedLive("binds port 0, receives datagrams with their sender, and sends back", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      expect(socket.address.host).toBe("127.0.0.1")
      expect(socket.address.port).toBeGreaterThan(0)
      expect(socket.maxDatagramBytes).toBe(65507)
      const peer = yield* UdpPeer.open()
      peer.send("Michael", socket.address.port)
      peer.send("", socket.address.port)
      const [first, empty] = yield* take(socket, 2)
      expect(text(first!.data)).toBe("Michael")
      expect(first!.address).toEqual({ host: "127.0.0.1", port: peer.port })
      expect(empty!.data.length).toBe(0)
      yield* socket.send(Buffer.from("Hello, Michael!"), first!.address)
      expect(yield* peer.waitFor(1)).toEqual(["Hello, Michael!"])
      expect(socket.received()).toBe(2)
    }))

  it.scopedLive.skipIf(!UdpPeer.hasIpv6)("binds IPv6 loopback ::1 (skipped where the machine has no IPv6)", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ host: "::1", port: 0 })
      expect(socket.address.host).toBe("::1")
      expect(socket.maxDatagramBytes).toBe(65527)
      const peer = yield* UdpPeer.open("::1")
      peer.send("Ada", socket.address.port)
      const [datagram] = yield* take(socket, 1)
      expect(datagram!.address).toEqual({ host: "::1", port: peer.port })
      yield* socket.send(Buffer.from("Hello, Ada!"), datagram!.address)
      expect(yield* peer.waitFor(1)).toEqual(["Hello, Ada!"])
    }))

  it.scopedLive("fails with the reason and the OS error when the port is taken", () =>
    Effect.gen(function*() {
      const first = yield* UdpSocket.make({ port: 0 })
      const error = yield* Effect.flip(UdpSocket.make({ port: first.address.port }))
      expect(error._tag).toBe("UdpBindError")
      expect(error.reason).toBe("AddressInUse")
      expect(error.message).toBe(
        `cannot bind UDP to 127.0.0.1:${first.address.port}: the address is already in use (EADDRINUSE)`
      )
    }))

  it.scopedLive("fails with the reason and the OS error when the address is not local", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(UdpSocket.make({ host: "192.0.2.1", port: 0 }))
      expect(error.reason).toBe("AddressNotAvailable")
      expect(error.message).toBe("cannot bind UDP to 192.0.2.1:0: the address is not available on this machine (EADDRNOTAVAIL)")
    }))

  it.scopedLive("fails a send to an invalid address with a tagged error, and goes on serving", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      const badPort = yield* Effect.flip(socket.send(Buffer.from("x"), { host: "127.0.0.1", port: 0 }))
      expect(badPort._tag).toBe("UdpSendError")
      expect(badPort.message).toMatch(/^cannot send a datagram of 1 bytes to 127\.0\.0\.1:0: Port should be > 0 and < 65536/)
      const wrongFamily = yield* Effect.flip(socket.send(Buffer.from("x"), { host: "::1", port: 9 }))
      expect(wrongFamily.message).toBe("cannot send a datagram of 1 bytes to [::1]:9: invalid argument (EINVAL)")
      const tooLarge = yield* Effect.flip(socket.send(new Uint8Array(65508), socket.address))
      expect(tooLarge.message).toBe(
        `cannot send a datagram of 65508 bytes to 127.0.0.1:${socket.address.port}: it is larger than a UDP datagram can be (EMSGSIZE)`
      )

      const peer = yield* UdpPeer.open()
      const failures = yield* socket.sendAll([
        { data: Buffer.from("one"), address: { host: "127.0.0.1", port: peer.port } },
        { data: Buffer.from("x"), address: { host: "127.0.0.1", port: 0 } },
        { data: Buffer.from("two"), address: { host: "127.0.0.1", port: peer.port } }
      ])
      expect(failures.map((failure) => failure.address.port)).toEqual([0])
      expect(yield* peer.waitFor(2)).toEqual(["one", "two"])
      peer.send("still there?", socket.address.port)
      const [datagram] = yield* take(socket, 1)
      expect(text(datagram!.data)).toBe("still there?")
    }))

  it.scopedLive("drops and counts the datagrams that find the buffer full, and keeps the first ones", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0, bufferSize: 8 })
      const peer = yield* UdpPeer.open()
      for (let i = 0; i < 50; i++) peer.send(`d${i}`, socket.address.port)
      // Nobody consumes yet: 8 wait in the buffer, the rest are dropped as they come.
      while (socket.received() < 50) yield* Effect.sleep("10 millis")
      expect(socket.dropped()).toBe(42)
      const kept = yield* take(socket, 8)
      expect(kept.map((datagram) => text(datagram.data))).toEqual(Array.from({ length: 8 }, (_, i) => `d${i}`))
      // Room again: new datagrams are kept.
      peer.send("later", socket.address.port)
      const [later] = yield* take(socket, 1)
      expect(text(later!.data)).toBe("later")
      expect(socket.dropped()).toBe(42)
    }))

  it.scopedLive("on scope close ends the datagrams after those still buffered, and closes the socket", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const buffered = yield* Scope.extend(UdpSocket.make({ port: 0 }), scope)
      const idle = yield* Scope.extend(UdpSocket.make({ port: 0 }), scope)
      const waiting = yield* Effect.fork(Stream.runCollect(idle.datagrams))
      const peer = yield* UdpPeer.open()
      peer.send("a", buffered.address.port)
      peer.send("b", buffered.address.port)
      while (buffered.received() < 2) yield* Effect.sleep("10 millis")
      yield* Scope.close(scope, Exit.void)
      expect(Chunk.size(yield* Fiber.join(waiting))).toBe(0)
      // Waiting together, they come as one chunk; then the end.
      const chunk = yield* buffered.receive
      expect(Chunk.toReadonlyArray(chunk).map((datagram) => text(datagram.data))).toEqual(["a", "b"])
      expect((yield* Effect.flip(buffered.receive))._tag).toBe("NoSuchElementException")
      const closed = yield* Effect.flip(buffered.send(Buffer.from("x"), { host: "127.0.0.1", port: peer.port }))
      expect(closed.message).toBe(`cannot send a datagram of 1 bytes to 127.0.0.1:${peer.port}: Not running`)
      // The port is free again.
      yield* UdpSocket.make({ port: buffered.address.port })
    }))
})
