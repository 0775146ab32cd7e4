/**
 * `runMessages` against peers that pipeline, over real loopback sockets: the messages of one
 * read are decoded a piece at a time, so a peer that pipelines small messages and does not read
 * the replies holds its undecoded bytes, not thousands of decoded messages, and the replies to a
 * read's messages go out together.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { lines } from "../../src/framing/lines.js"
import * as TcpConnection from "../../src/tcp/connection.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as TcpServer from "../../src/tcp/server.js"
import { gc, heapUsed, MB } from "../helpers/memory.js"
import { bundle, start } from "../helpers/process.js"
import { portOf } from "../helpers/address.js"

const retained = () => {
  const used = heapUsed()
  return used + process.memoryUsage().arrayBuffers
}

describe("runMessages with peers that pipeline", () => {
  it.scopedLive.skipIf(gc === undefined)("20 peers that pipeline lines and never read hold under 1 MB each, and nothing once they are gone", () =>
    Effect.gen(function*() {
      const listener = yield* TcpListener.make({ port: 0, writeTimeout: "4 seconds" })
      const reply = Buffer.from("Hello, Michael!\n")
      yield* TcpServer.serve((connection) =>
        Effect.zipRight(
          connection.write(Buffer.from("Welcome!")),
          TcpConnection.runMessages(connection, lines(), (_, connection) => connection.unsafeWrite(reply))
        )
      ).pipe(Effect.provideService(TcpListener.TcpListener, listener), Logger.withMinimumLogLevel(LogLevel.Error), Effect.forkScoped)
      const before = retained()
      yield* start([process.execPath, yield* bundle("test/fixtures/line-flood.ts"), String(portOf(listener.address)), "20", "100000000", "noread"])
      while (listener.openConnections() < 20) yield* Effect.sleep("50 millis")
      // Long enough for each to fill the kernel's buffers and wait for the peer.
      yield* Effect.sleep("1500 millis")
      expect(listener.openConnections()).toBe(20)
      const stuck = retained()
      console.log(`20 non-reading peers: ${((stuck - before) / MB).toFixed(1)} MB retained`)
      expect(stuck - before).toBeLessThan(20 * MB)
      // The write timeout resets them.
      while (listener.openConnections() > 0) yield* Effect.sleep("100 millis")
      yield* Effect.sleep("100 millis")
      expect(retained() - before).toBeLessThan(2 * MB)
    }), 30_000)
})
