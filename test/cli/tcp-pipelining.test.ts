/**
 * `start:tcp --framing line` under pipelined floods, with real processes: clients that send
 * lines without waiting for the replies neither keep a new client waiting (a connection's loop
 * gives the event loop back, and the replies to one read go out together), nor, when they never
 * read, hold more than about a socket's buffers each.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Peer from "../helpers/peer.js"
import { bundle, rss, start, startServer } from "../helpers/process.js"

/** Connects and times the welcome, then the reply to one line, in milliseconds. */
const probe = (port: number) =>
  Effect.gen(function*() {
    const began = Date.now()
    const peer = yield* Peer.connect(port)
    yield* peer.waitFor("Welcome!", "10 seconds")
    const welcomed = Date.now() - began
    yield* peer.write("probe\n")
    yield* peer.waitFor("Hello, probe!\n", "10 seconds")
    return { welcomed, answered: Date.now() - began }
  })

describe("start:tcp --framing line under pipelined floods", () => {
  it.scopedLive("while 20 clients pipeline 200,000 lines each, reading their replies, a new client is welcomed and answered within 1 s", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--framing", "line", "--log-level", "warning"])
      const flood = yield* start([process.execPath, yield* bundle("test/fixtures/line-flood.ts"), String(server.port), "20", "200000"])
      yield* Effect.sleep("300 millis")
      const during = yield* probe(server.port)
      console.log(`a new client during 20 pipelined floods: welcomed in ${during.welcomed} ms, answered in ${during.answered} ms`)
      // Still flooding when the probe was answered: it did not wait for the floods to end.
      expect(flood.stdout()).toBe("")
      expect(during.welcomed).toBeLessThan(1000)
      expect(during.answered).toBeLessThan(1000)
      yield* flood.waitFor(/"seconds"/, "60 seconds")
    }), 90_000)

  it.scopedLive("20 clients that pipeline and never read: each costs about its socket's buffers, others are answered meanwhile, and the write timeout cuts them off", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0", "--framing", "line", "--write-timeout", "3"])
      const pid = server.child.pid!
      const before = rss(pid)
      yield* start([process.execPath, yield* bundle("test/fixtures/line-flood.ts"), String(server.port), "20", "100000000", "noread"])
      yield* Effect.sleep("1500 millis")
      const stuck = rss(pid)
      const meanwhile = yield* probe(server.port)
      expect(meanwhile.answered).toBeLessThan(1000)
      // Their replies wait in the kernel, the rest of their lines too: the server holds a read and a
      // write buffer's worth each, and the garbage of what the kernel took.
      console.log(`20 non-reading clients: server RSS ${(before / 2 ** 20).toFixed(0)} MB before, ${(stuck / 2 ** 20).toFixed(0)} MB with them`)
      expect(stuck - before).toBeLessThan(100 * 2 ** 20)
      yield* server.waitForStderr(/did not read our replies for 3 s \(write timeout\)/, "10 seconds")
    }), 30_000)
})
