import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as UdpSocket from "../../src/udp/socket.js"
import * as UdpPeer from "../helpers/udp-peer.js"
import { udpAddress } from "../../src/address.js"

const text = (data: Uint8Array) => Buffer.from(data).toString("latin1")
const texts = (chunk: Chunk.Chunk<UdpSocket.Datagram>) => Chunk.toReadonlyArray(chunk).map((datagram) => text(datagram.data))
/** Waits, polling, until `condition` holds (bounded by the test's timeout). */
const until = (condition: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => condition() ? Effect.void : Effect.zipRight(Effect.sleep("5 millis"), until(condition)))
const take = (socket: UdpSocket.UdpSocket, n: number) =>
  socket.datagrams.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("UdpSocket", () => {
  it.scopedLive("binds port 0, receives datagrams with their sender, and sends back", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      expect(socket.address.hostname).toBe("127.0.0.1")
      expect(socket.address.port).toBeGreaterThan(0)
      expect(socket.maxDatagramBytes).toBe(65507)
      const peer = yield* UdpPeer.open()
      peer.send("Michael", socket.address.port)
      peer.send("", socket.address.port)
      const [first, empty] = yield* take(socket, 2)
      expect(text(first!.data)).toBe("Michael")
      expect(first!.address).toEqual(udpAddress("127.0.0.1", peer.port))
      expect(empty!.data.length).toBe(0)
      yield* socket.send(Buffer.from("Hello, Michael!"), first!.address)
      expect(yield* peer.waitFor(1)).toEqual(["Hello, Michael!"])
      expect(socket.received()).toBe(2)
    }))

  it.scopedLive.skipIf(!UdpPeer.hasIpv6)("binds IPv6 loopback ::1 (skipped where the machine has no IPv6)", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ host: "::1", port: 0 })
      expect(socket.address.hostname).toBe("::1")
      expect(socket.maxDatagramBytes).toBe(65527)
      const peer = yield* UdpPeer.open("::1")
      peer.send("Ada", socket.address.port)
      const [datagram] = yield* take(socket, 1)
      expect(datagram!.address).toEqual(udpAddress("::1", peer.port))
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
      const badPort = yield* Effect.flip(socket.send(Buffer.from("x"), udpAddress("127.0.0.1", 0)))
      expect(badPort._tag).toBe("UdpSendError")
      expect(badPort.message).toMatch(/^cannot send a datagram of 1 bytes to 127\.0\.0\.1:0: Port should be > 0 and < 65536/)
      const wrongFamily = yield* Effect.flip(socket.send(Buffer.from("x"), udpAddress("::1", 9)))
      expect(wrongFamily.message).toBe("cannot send a datagram of 1 bytes to [::1]:9: invalid argument (EINVAL)")
      const tooLarge = yield* Effect.flip(socket.send(new Uint8Array(65508), socket.address))
      expect(tooLarge.message).toBe(
        `cannot send a datagram of 65508 bytes to 127.0.0.1:${socket.address.port}: it is larger than a UDP datagram can be (EMSGSIZE)`
      )

      const peer = yield* UdpPeer.open()
      const failures = yield* socket.sendAll([
        { data: Buffer.from("one"), address: udpAddress("127.0.0.1", peer.port) },
        { data: Buffer.from("x"), address: udpAddress("127.0.0.1", 0) },
        { data: Buffer.from("two"), address: udpAddress("127.0.0.1", peer.port) }
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

  it.scopedLive("receiveUpTo takes at most that many, in order; the others keep waiting, within the bound", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0, bufferSize: 4 })
      const peer = yield* UdpPeer.open()
      for (let i = 0; i < 6; i++) peer.send(`d${i}`, socket.address.port)
      yield* until(() => socket.received() === 6)
      expect([socket.waiting(), socket.dropped()]).toEqual([4, 2])
      expect(texts(yield* socket.receiveUpTo(3))).toEqual(["d0", "d1", "d2"])
      expect(socket.waiting()).toBe(1)
      // One at a time, with the buffer full again after each: first in, first out, never more than 4 waiting.
      const order: Array<string> = []
      for (let i = 0; i < 12; i++) {
        peer.send(`e${i}`, socket.address.port)
        peer.send(`f${i}`, socket.address.port)
        peer.send(`g${i}`, socket.address.port)
        peer.send(`h${i}`, socket.address.port)
        yield* until(() => socket.received() === 10 + 4 * i)
        expect(socket.waiting()).toBe(4)
        order.push(...texts(yield* socket.receiveUpTo(1)))
      }
      // Room for 3 in the first round, then for 1 in each.
      expect(order).toEqual(["d3", "e0", "f0", "g0", ...Array.from({ length: 8 }, (_, i) => `e${i + 1}`)])
      expect(socket.dropped()).toBe(2 + 1 + 11 * 3)
      expect(texts(yield* socket.receive)).toEqual(["e9", "e10", "e11"])
    }))

  it.scopedLive("receiveUpTo with maxWait drops, counted, those that waited longer, and takes the others in order", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      const peer = yield* UdpPeer.open()
      for (const name of ["old1", "old2", "old3"]) peer.send(name, socket.address.port)
      yield* until(() => socket.received() === 3)
      yield* Effect.sleep("300 millis")
      for (const name of ["new1", "new2"]) peer.send(name, socket.address.port)
      yield* until(() => socket.received() === 5)
      expect(texts(yield* socket.receiveUpTo(1, Duration.millis(150)))).toEqual(["new1"])
      expect([socket.waiting(), socket.dropped()]).toEqual([1, 3])
      // Without a bound, however long it waited.
      yield* Effect.sleep("300 millis")
      expect(texts(yield* socket.receiveUpTo(10))).toEqual(["new2"])
      expect(socket.dropped()).toBe(3)
    }))

  it.scopedLive("stopReceiving drops what waits and what comes, counted, ends receive, and still sends", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      const peer = yield* UdpPeer.open()
      for (const name of ["a", "b", "c"]) peer.send(name, socket.address.port)
      yield* until(() => socket.received() === 3)
      expect(yield* socket.stopReceiving).toBe(3)
      expect((yield* Effect.flip(socket.receive))._tag).toBe("NoSuchElementException")
      peer.send("late", socket.address.port)
      yield* until(() => socket.received() === 4)
      expect([socket.waiting(), socket.dropped()]).toEqual([0, 4])
      expect(yield* socket.stopReceiving).toBe(0)
      yield* socket.send(Buffer.from("bye"), udpAddress("127.0.0.1", peer.port))
      expect(yield* peer.waitFor(1)).toEqual(["bye"])
    }))

  it.scopedLive("receive is interruptible while it waits, and an interrupted receive takes nothing", () =>
    Effect.gen(function*() {
      const socket = yield* UdpSocket.make({ port: 0 })
      // Even inside an uninterruptible region: only the wait can be interrupted.
      const waiting = yield* Effect.fork(Effect.uninterruptible(socket.receive))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(waiting)
      const peer = yield* UdpPeer.open()
      peer.send("kept", socket.address.port)
      expect(texts(yield* socket.receive)).toEqual(["kept"])
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
      const closed = yield* Effect.flip(buffered.send(Buffer.from("x"), udpAddress("127.0.0.1", peer.port)))
      expect(closed.message).toBe(`cannot send a datagram of 1 bytes to 127.0.0.1:${peer.port}: Not running`)
      // The port is free again.
      yield* UdpSocket.make({ port: buffered.address.port })
    }))
})
