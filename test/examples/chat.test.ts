// The chat room example (examples/chat), with Debian's nc and socat as its clients.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lines, printsHelp, rejectsFlags, stopsCleanly } from "../helpers/cli.js"
import { type Running, start, startServer } from "../helpers/process.js"

/** A pattern matching `text` as a whole line. */
const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m")

/** OpenBSD's nc (Debian's netcat-openbsd): `-N` sends a FIN at the end of its input. */
const nc = (port: number) => start(["nc.openbsd", "-N", "127.0.0.1", String(port)])
const socat = (port: number) => start(["socat", "-", `TCP:127.0.0.1:${port}`])

/** Waits for a client's welcome; returns the name the room knows it by. */
const welcomed = (client: Running) => Effect.map(client.waitFor(/^\* welcome, you are (\S+)$/m), ([, name]) => name!)

describe("pnpm example:chat", () => {
  it.scopedLive("passes each line to the others, not back to its sender, and tells them who joins and leaves", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:chat", ["--port", "0"])
      const ada = yield* socat(server.port)
      const adaName = yield* welcomed(ada)
      const bob = yield* nc(server.port)
      const bobName = yield* welcomed(bob)
      yield* ada.waitFor(exactly(`* ${bobName} joined`))

      ada.send("hello from socat\n")
      yield* bob.waitFor(exactly(`${adaName}: hello from socat`))
      bob.send("hi from nc\n")
      yield* ada.waitFor(exactly(`${bobName}: hi from nc`))
      // nc -N sends its FIN at the end of its input.
      bob.child.stdin!.end()
      yield* ada.waitFor(exactly(`* ${bobName} left`))
      expect(yield* bob.exited).toBe(0)

      expect(lines(ada.stdout())).toEqual([`* welcome, you are ${adaName}`, `* ${bobName} joined`, `${bobName}: hi from nc`, `* ${bobName} left`])
      expect(lines(bob.stdout())).toEqual([`* welcome, you are ${bobName}`, `${adaName}: hello from socat`])
      // Stopped with a client in the room: it drains, and the client is let go (socat exits when the server closes).
      yield* stopsCleanly(server, 5_000)
      expect(yield* ada.exited).toBe(0)
      expect(server.stderr()).toBe("")
    }))

  it.scopedLive("lets go of a client that stops reading, with a line saying why, while the others go on chatting", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:chat", ["--port", "0"])
      const stuck = yield* socat(server.port)
      const stuckName = yield* welcomed(stuck)
      // Nothing reads socat's output from now on: once its pipe is full, socat stops reading the room.
      stuck.child.stdout!.pause()
      const talker = yield* nc(server.port)
      const talkerName = yield* welcomed(talker)
      const listener = yield* nc(server.port)
      const listenerName = yield* welcomed(listener)
      yield* talker.waitFor(exactly(`* ${listenerName} joined`))

      // Lines a batch at a time, until the stuck client's queue has overflowed.
      let batches = 0
      const batch = () =>
        Array.from({ length: 1000 }, (_, i) => `${batches}-${i} ${"x".repeat(990)}\n`).join("")
      yield* Effect.suspend(() => {
        talker.send(batch())
        batches++
        return talker.waitFor(exactly(`* ${stuckName} left`), "300 millis")
      }).pipe(Effect.retry({ times: 100 }))

      talker.send("still here\n")
      yield* listener.waitFor(exactly(`${talkerName}: still here`), "60 seconds")
      // Every line came through to the one that reads, in order.
      const heard = lines(listener.stdout()).filter((line) => line.startsWith(`${talkerName}: `))
      expect(heard.length).toBe(batches * 1000 + 1)
      expect(heard.at(-2)).toBe(`${talkerName}: ${batches - 1}-999 ${"x".repeat(990)}`)

      // Reading at last, the stuck client finds the line saying why, then the end.
      stuck.child.stdout!.resume()
      expect(yield* stuck.exited).toBe(0)
      expect(lines(stuck.stdout()).at(-1)).toBe("* disconnected: you are not reading (1024 lines waiting)")
      yield* stopsCleanly(server, 5_000)
    }), 120_000)

  it.scopedLive("answers a line over its cap with an error line, and lets the client go", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:chat", ["--port", "0"])
      const client = yield* socat(server.port)
      yield* welcomed(client)
      client.send(`${"x".repeat(2000)}\n`)
      expect(yield* client.exited).toBe(0)
      expect(lines(client.stdout()).at(-1)).toBe("* error: line too long (max 1024 bytes)")
    }))

  printsHelp("example:chat", "Usage: pnpm example:chat [--host HOST] [--port PORT]")

  rejectsFlags("example:chat", [
    [["--frobnicate"], "Unknown option '--frobnicate' (see --help)"],
    [["--port", "70000"], "--port must be a port number, 0 to 65535, got 70000"]
  ])
})
