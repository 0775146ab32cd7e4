// What the example servers share (examples/shared/main.ts): a port already taken is one line
// on stderr and exit code 1, as any failure before serving.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as TcpListener from "../../src/tcp/listener.js"
import { portOf } from "../helpers/address.js"
import { runScript } from "../helpers/process.js"

const servers: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["example:chat", []],
  ["example:forward", ["--to", "127.0.0.1:9"]],
  ["example:kv", []]
]

describe("the example servers", () => {
  for (const [script, flags] of servers) {
    it.scopedLive(`${script} says in one line that its port is taken, exit code 1`, () =>
      Effect.gen(function*() {
        const taken = portOf((yield* TcpListener.make({ host: "127.0.0.1", port: 0 })).address)
        expect(yield* runScript(script, ["--port", String(taken), ...flags])).toEqual({
          code: 1,
          stdout: "",
          stderr: `error: cannot listen on 127.0.0.1:${taken}: the address is already in use (EADDRINUSE)\n`
        })
      }))
  }
})
