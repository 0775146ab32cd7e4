// The key-value example (examples/kv): its client against its server, and a raw peer that
// frames by hand (a 4-byte big-endian length, then JSON), independent of the library's codecs.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { printsHelp, rejectsFlags, stopsCleanly } from "../helpers/cli.js"
import * as Peer from "../helpers/peer.js"
import { freePort, runScript, startServer } from "../helpers/process.js"

/** A frame: its payload's length, then the payload. */
const frame = (payload: string | Buffer) => {
  const body = Buffer.from(payload)
  const header = Buffer.alloc(4)
  header.writeUInt32BE(body.length)
  return Buffer.concat([header, body])
}

/** The JSON payloads of the frames in what a peer received (latin1 text, byte-exact). */
const payloads = (received: string): Array<unknown> => {
  const bytes = Buffer.from(received, "latin1")
  const out: Array<unknown> = []
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32BE(at)
    out.push(JSON.parse(bytes.subarray(at + 4, at + 4 + length).toString("utf8")))
    at += 4 + length
  }
  return out
}

describe("pnpm example:kv", () => {
  it.scopedLive("stores and answers through its client, and stops on SIGTERM with code 0", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:kv", ["--port", "0"])
      const client = (...args: Array<string>) => runScript("example:kv-client", ["--port", String(server.port), ...args])
      expect(yield* client("set", "greeting", "Grüß Gott, \"world\"")).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
      expect(yield* client("get", "greeting")).toEqual({ code: 0, stdout: "Grüß Gott, \"world\"\n", stderr: "" })
      expect(yield* client("get", "missing")).toEqual({ code: 1, stdout: "", stderr: "error: missing is not set\n" })
      // The client's encoder refuses a frame over the cap before sending it.
      expect(yield* client("set", "big", "x".repeat(70_000))).toEqual({
        code: 1,
        stdout: "",
        stderr: "error: frame too large (70037 bytes, max 65536)\n"
      })
      // Stopped with a client connected: it is let go.
      const peer = yield* Peer.connect(server.port)
      yield* peer.write(frame(JSON.stringify({ _tag: "Get", key: "greeting" })))
      yield* peer.waitFor(frame(JSON.stringify({ _tag: "Value", value: "Grüß Gott, \"world\"" })).toString("latin1"))
      yield* stopsCleanly(server, 5_000)
      yield* peer.closed()
      expect(server.stderr()).toBe("")
    }))

  it.scopedLive("refuses a frame over its cap, as soon as its header says so, with an error response, then closes", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:kv", ["--port", "0"])
      const peer = yield* Peer.connect(server.port)
      const header = Buffer.alloc(4)
      header.writeUInt32BE(10 * 1024 * 1024)
      yield* peer.write(Buffer.concat([frame(JSON.stringify({ _tag: "Set", key: "k", value: "v" })), header]))
      expect(payloads(yield* peer.closed())).toEqual([
        { _tag: "Stored" },
        { _tag: "Error", message: "frame too large (10485760 bytes, max 65536)" }
      ])
    }))

  it.scopedLive("answers a frame that is not a request with an error response naming it, then closes", () =>
    Effect.gen(function*() {
      const server = yield* startServer("example:kv", ["--port", "0"])
      const peer = yield* Peer.connect(server.port)
      yield* peer.write(Buffer.concat([
        frame(JSON.stringify({ _tag: "Get", key: "k" })),
        frame(JSON.stringify({ _tag: "Delete", key: "k" })),
        frame(JSON.stringify({ _tag: "Get", key: "k" }))
      ]))
      expect(payloads(yield* peer.closed())).toEqual([
        { _tag: "Value", value: null },
        { _tag: "Error", message: "frame 1 does not decode: \"{\\\"_tag\\\":\\\"Delete\\\",\\\"key\\\":\\\"k\\\"}\"" }
      ])
      const notJson = yield* Peer.connect(server.port)
      yield* notJson.write(frame("hello"))
      expect(payloads(yield* notJson.closed())).toEqual([{ _tag: "Error", message: "frame 0 does not decode: \"hello\"" }])
    }))

  it.scopedLive("kv-client says in one line that no server answers, exit code 1", () =>
    Effect.gen(function*() {
      const nobody = yield* freePort()
      expect(yield* runScript("example:kv-client", ["--port", String(nobody), "get", "k"])).toEqual({
        code: 1,
        stdout: "",
        stderr: `error: cannot connect to 127.0.0.1:${nobody}: connection refused (ECONNREFUSED)\n`
      })
    }))

  printsHelp("example:kv", "Usage: pnpm example:kv [--host HOST] [--port PORT]")
  printsHelp("example:kv-client", "pnpm example:kv-client [--host HOST] [--port PORT] set KEY VALUE")

  rejectsFlags("example:kv", [
    [["--frobnicate"], "Unknown option '--frobnicate' (see --help)"],
    [["--port", "x"], "--port must be a port number, 0 to 65535, got x"]
  ])
  rejectsFlags("example:kv-client", [
    [["--frobnicate", "get", "k"], "Unknown option '--frobnicate'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--frobnicate\" (see --help)"],
    [["get"], "expected get KEY, or set KEY VALUE (see --help)"],
    [["set", "k"], "expected get KEY, or set KEY VALUE (see --help)"]
  ])
})
