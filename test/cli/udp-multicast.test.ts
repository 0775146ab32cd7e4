import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lines, rejectsFlags, stopsCleanly, udpSummary } from "../helpers/cli.js"
import { runScript, startServer } from "../helpers/process.js"
import * as UdpPeer from "../helpers/udp-peer.js"

// Every join names the loopback interface, and every multicast datagram goes out through it:
// nothing here may reach another interface.
const skippedBecause = (why: string | undefined) => why === undefined ? "" : ` (skipped: ${why})`

describe("start:udp --multicast-group", () => {
  it.scopedLive.skipIf(UdpPeer.noIpv4MulticastOnLoopback !== undefined)(
    `answers datagrams sent to the group, two servers on one port each; client:udp talks to the group${
      skippedBecause(UdpPeer.noIpv4MulticastOnLoopback)
    }`,
    () =>
      Effect.gen(function*() {
        const group = "239.255.77.10"
        const flags = ["--multicast-group", group, "--multicast-interface", "lo"]
        const first = yield* startServer("start:udp", ["--port", "0", ...flags])
        expect(first.stdout()).toBe(`listening on udp://${group}:${first.port}\n`)
        const second = yield* startServer("start:udp", ["--port", String(first.port), ...flags])
        yield* second.waitFor(/^listening/m)

        const peer = UdpPeer.throughLoopback(yield* UdpPeer.open())
        peer.socket.send("Ada", first.port, group)
        expect(yield* peer.waitFor(2)).toEqual(["Hello, Ada!", "Hello, Ada!"])

        // The client takes the first reply to each name; the other server's is one too many, and ignored.
        const client = yield* runScript("client:udp", [
          "--host", group, "--port", String(first.port), "--multicast-interface", "127.0.0.1", "--multicast-ttl", "0", "Grace", "Hopper"
        ])
        expect(client).toMatchObject({ code: 0, stdout: "Hello, Grace!\nHello, Hopper!\n" })

        for (const server of [first, second]) {
          yield* stopsCleanly(server, 3000)
          expect(server.stderr()).toContain(`message="joined multicast group ${group} on lo"`)
          expect(udpSummary(server.stderr())).toEqual({ received: 3, answered: 3, dropped: 0 })
        }
      })
  )

  it.scopedLive.skipIf(!UdpPeer.hasIpv6)("IPv6: binds a link-local group with the interface as its zone, and joins it on lo", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--multicast-group", "ff02::77:11", "--multicast-interface", "lo"])
      expect(server.stdout()).toBe(`listening on udp://[ff02::77:11]:${server.port}\n`)
      yield* stopsCleanly(server, 3000)
      expect(server.stderr()).toContain(`message="joined multicast group ff02::77:11 on lo"`)
    }))

  it.scopedLive.skipIf(UdpPeer.noIpv6MulticastOnLoopback !== undefined)(
    `IPv6: answers datagrams sent to the group${skippedBecause(UdpPeer.noIpv6MulticastOnLoopback)}`,
    () =>
      Effect.gen(function*() {
        const group = "ff05::77:12"
        const server = yield* startServer("start:udp", ["--port", "0", "--multicast-group", group, "--multicast-interface", "lo"])
        const peer = UdpPeer.throughLoopback(yield* UdpPeer.open("::1"), "IPv6")
        peer.socket.send("Ada", server.port, group)
        expect(yield* peer.waitFor(1)).toEqual(["Hello, Ada!"])
      })
  )

  it.live("says which interface is missing, with exit code 1, and joins nothing", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runScript("start:udp", ["--port", "0", "--multicast-group", "239.255.77.13", "--multicast-interface", "nosuch0"])
      expect(code).toBe(1)
      expect(lines(stderr)).toEqual([
        "error: cannot join multicast group 239.255.77.13 on nosuch0: no such interface on this machine (for the socket's family); --multicast-interface takes an interface's name (lo, eth0) or one of its addresses (see ip address)"
      ])
    }))

  it.live("says so, with exit code 1, when the group and --host are of different families", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runScript("start:udp", ["--host", "127.0.0.1", "--port", "0", "--multicast-group", "ff05::77:14", "--multicast-interface", "lo"])
      expect(code).toBe(1)
      expect(lines(stderr)).toEqual([
        "error: cannot join multicast group ff05::77:14 on lo: not a multicast group of the socket's family (224.0.0.0/4 for IPv4, ff00::/8 for IPv6); --multicast-group and --host must be of the same family (IPv4 or IPv6)"
      ])
    }))

  it.live("lists the multicast flags in its help, and the client its own", () =>
    Effect.gen(function*() {
      expect((yield* runScript("start:udp", ["--help"])).stdout).toMatch(/--multicast-group[\s\S]*--multicast-interface/)
      const client = yield* runScript("client:udp", ["--help"])
      for (const flag of ["--broadcast", "--multicast-interface", "--multicast-ttl"]) expect(client.stdout).toContain(flag)
    }))

  rejectsFlags("start:udp", [
    [["--multicast-group", "10.0.0.1"], "--multicast-group must be a multicast address (224.0.0.0 to 239.255.255.255, or ff00::/8), got 10.0.0.1"],
    [["--multicast-group", "ff::1"], "--multicast-group must be a multicast address (224.0.0.0 to 239.255.255.255, or ff00::/8), got ff::1"],
    [["--multicast-interface", "lo"], "--multicast-interface needs --multicast-group"]
  ])
})

describe("client:udp --broadcast", () => {
  it.scopedLive("greets through the loopback network's broadcast address; without --broadcast, says to add it", () =>
    Effect.gen(function*() {
      // A server bound to lo's broadcast address gets what is sent to it (and, bound to 0.0.0.0, would too).
      const server = yield* startServer("start:udp", ["--host", "127.255.255.255", "--port", "0"])
      const port = String(server.port)
      const client = yield* runScript("client:udp", ["--broadcast", "--host", "127.255.255.255", "--port", port, "Ada"])
      expect(client).toMatchObject({ code: 0, stdout: "Hello, Ada!\n" })
      const refused = yield* runScript("client:udp", ["--host", "127.255.255.255", "--port", port, "Ada"])
      expect(refused.code).toBe(1)
      expect(lines(refused.stderr)).toEqual([
        `error: cannot send a datagram of 3 bytes to 127.255.255.255:${port}: permission denied (EACCES); to send to a broadcast address, add --broadcast`
      ])
    }))

  rejectsFlags("client:udp", [
    [["--multicast-ttl", "256"], "--multicast-ttl must be between 0 and 255, got 256"],
    [["--multicast-interface"], "expected a value after --multicast-interface"]
  ])
})
